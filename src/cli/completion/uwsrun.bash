# bash completion for uwsrun, printed by `uwsrun completion bash`. Load it with
#   source <(uwsrun completion bash)     (in ~/.bashrc), or save it as /etc/bash_completion.d/uwsrun
#
# How it works: the table below was written by uwsrun when it printed this script, from its
# own command definitions: "o COMMAND FLAG KIND" for each option (COMMAND is * for the
# global options, - for those of uwsrun alone; KIND ! for an option without a value) and
# "a COMMAND KIND..." for each command's arguments (a trailing ... repeats). At each Tab the
# words before the cursor are walked to find the command, an option whose value is being
# typed, or the position of the argument; its KIND says what to offer: file, dir,
# words:A,B (those words), - (any value: nothing to offer), defs or ids. Only definition
# names and job ids are asked of uwsrun itself, `uwsrun __complete defs|ids`, with the
# --home and -f/--file of the line: the names of the definitions file the command would
# read, the ids of the HOME it would use.

__uwsrun_table='@TABLE@'

# The KIND of option $2 of command $1 ("" when it has no such option).
__uwsrun_option_kind() {
  local t c f k
  while read -r t c f k; do
    if [[ $t == o && ( $c == "$1" || $c == '*' ) && $f == "$2" ]]; then
      printf '%s' "$k"
      return
    fi
  done <<< "$__uwsrun_table"
}

__uwsrun_options() {
  local t c f k
  while read -r t c f k; do
    [[ $t == o && ( $c == "$1" || $c == '*' ) ]] && printf '%s\n' "$f"
  done <<< "$__uwsrun_table"
}

__uwsrun_commands() {
  local t c rest
  while read -r t c rest; do
    [[ $t == a ]] && printf '%s\n' "$c"
  done <<< "$__uwsrun_table"
}

# The KIND of argument number $2 (from 0) of command $1.
__uwsrun_argument_kind() {
  local t c kinds
  local -a list
  while read -r t c kinds; do
    [[ $t == a && $c == "$1" ]] || continue
    read -r -a list <<< "$kinds"
    if (( $2 < ${#list[@]} )); then
      printf '%s' "${list[$2]%...}"
    elif (( ${#list[@]} > 0 )) && [[ ${list[${#list[@]}-1]} == *... ]]; then
      printf '%s' "${list[${#list[@]}-1]%...}"
    fi
    return
  done <<< "$__uwsrun_table"
}

# A word as the shell would pass it, for the simple cases: outer quotes off, a leading ~ expanded.
__uwsrun_word() {
  local w=$1
  if [[ $w == \'*\' || $w == \"*\" ]]; then w=${w:1:${#w}-2}; fi
  if [[ $w == '~' || $w == '~/'* ]]; then w=$HOME${w:1}; fi
  printf '%s' "$w"
}

_uwsrun() {
  local cur=${COMP_WORDS[COMP_CWORD]} cmd= home= file= want= w kind
  local -i i=1 n=0
  COMPREPLY=()
  while (( i < COMP_CWORD )); do
    w=${COMP_WORDS[i]}
    if [[ $w == = ]]; then
      # NAME=VALUE, split by bash at "=": the value belongs to the word before.
      (( i += 2 ))
      (( i > COMP_CWORD )) && return
      continue
    fi
    if [[ $w == -?* ]]; then
      kind=$(__uwsrun_option_kind "${cmd:--}" "$w")
      if [[ -n $kind && $kind != '!' ]]; then
        (( i++ ))
        [[ ${COMP_WORDS[i]} == = ]] && (( i++ ))
        if (( i >= COMP_CWORD )); then
          want=$kind
          [[ $cur == = ]] && cur=
          break
        fi
        case $w in
          --home) home=$(__uwsrun_word "${COMP_WORDS[i]}") ;;
          -f|--file) file=$(__uwsrun_word "${COMP_WORDS[i]}") ;;
        esac
      fi
    elif [[ -z $cmd ]]; then
      cmd=$w
    else
      (( n++ ))
    fi
    (( i++ ))
  done
  if [[ -z $want ]]; then
    if [[ $cur == -* ]]; then want=options
    elif [[ -z $cmd ]]; then want=commands
    else want=$(__uwsrun_argument_kind "$cmd" "$n")
    fi
  fi
  local uwsrun words
  uwsrun=$(__uwsrun_word "${COMP_WORDS[0]}")
  local -a at=()
  [[ -n $home ]] && at=(--home "$home")
  case $want in
    options) words=$(__uwsrun_options "${cmd:--}") ;;
    commands) words=$(__uwsrun_commands) ;;
    defs)
      [[ -n $file ]] && at+=(-f "$file")
      words=$("$uwsrun" __complete defs "${at[@]}" 2>/dev/null) ;;
    ids) words=$("$uwsrun" __complete ids "${at[@]}" -- "$cur" 2>/dev/null) ;;
    words:*) words=${want#words:}; words=${words//,/ } ;;
    file|dir)
      compopt -o filenames 2>/dev/null
      if [[ $want == dir ]]; then mapfile -t COMPREPLY < <(compgen -d -- "$cur")
      else mapfile -t COMPREPLY < <(compgen -f -- "$cur")
      fi
      return ;;
    *) return ;;
  esac
  mapfile -t COMPREPLY < <(compgen -W "$words" -- "$cur")
}

complete -F _uwsrun uwsrun
