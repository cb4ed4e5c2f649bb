#compdef uwsrun
# zsh completion for uwsrun, printed by `uwsrun completion zsh`. Load it with
#   source <(uwsrun completion zsh)      (in ~/.zshrc, after compinit), or save it as _uwsrun
#   in a directory of $fpath
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
      print -rn -- "$k"
      return
    fi
  done <<< "$__uwsrun_table"
}

# The KIND of argument number $2 (from 0) of command $1.
__uwsrun_argument_kind() {
  local t c kinds
  local -a list
  while read -r t c kinds; do
    [[ $t == o || $c != "$1" ]] && continue
    list=(${=kinds})
    if (( $2 < $#list )); then
      print -rn -- "${list[$2+1]%...}"
    elif (( $#list > 0 )) && [[ ${list[-1]} == *... ]]; then
      print -rn -- "${list[-1]%...}"
    fi
    return
  done <<< "$__uwsrun_table"
}

# A word as the shell would pass it, for the simple cases: quotes off, a leading ~ expanded.
__uwsrun_word() {
  local w=${(Q)1}
  [[ $w == '~' || $w == '~/'* ]] && w=$HOME${w#\~}
  print -rn -- "$w"
}

# What to offer at the cursor ($words, $CURRENT): a first line "file", "dir" or "list",
# then, for "list", the words (one a line). Kept apart from _uwsrun so it can be tried
# without the completion system.
__uwsrun_candidates() {
  local cur=${words[CURRENT]} cmd= home= file= want= w kind t c f k
  local -i i=2 n=0
  while (( i < CURRENT )); do
    w=${words[i]}
    if [[ $w == -?* ]]; then
      if [[ $w == --*=* ]]; then
        case ${w%%=*} in
          --home) home=$(__uwsrun_word "${w#*=}") ;;
          --file) file=$(__uwsrun_word "${w#*=}") ;;
        esac
      else
        kind=$(__uwsrun_option_kind "${cmd:--}" "$w")
        if [[ -n $kind && $kind != '!' ]]; then
          (( i++ ))
          if (( i >= CURRENT )); then want=$kind; break; fi
          case $w in
            --home) home=$(__uwsrun_word "${words[i]}") ;;
            -f|--file) file=$(__uwsrun_word "${words[i]}") ;;
          esac
        fi
      fi
    elif [[ -z $cmd ]]; then
      cmd=$w
    else
      (( n++ ))
    fi
    (( i++ ))
  done
  if [[ -z $want && $cur == --*=* ]]; then
    want=$(__uwsrun_option_kind "${cmd:--}" "${cur%%=*}")
    cur=${cur#*=}
  fi
  if [[ -z $want ]]; then
    if [[ $cur == -* ]]; then want=options
    elif [[ -z $cmd ]]; then want=commands
    else want=$(__uwsrun_argument_kind "$cmd" $n)
    fi
  fi
  local uwsrun=$(__uwsrun_word "${words[1]}")
  local -a at
  [[ -n $home ]] && at=(--home "$home")
  case $want in
    file|dir) print -r -- $want ;;
    options)
      print list
      while read -r t c f k; do
        [[ $t == o && ( $c == "${cmd:--}" || $c == '*' ) ]] && print -r -- "$f"
      done <<< "$__uwsrun_table" ;;
    commands)
      print list
      while read -r t c f; do
        [[ $t == a ]] && print -r -- "$c"
      done <<< "$__uwsrun_table" ;;
    defs)
      print list
      [[ -n $file ]] && at+=(-f "$file")
      "$uwsrun" __complete defs "${at[@]}" 2>/dev/null ;;
    ids)
      print list
      "$uwsrun" __complete ids "${at[@]}" -- "$cur" 2>/dev/null ;;
    words:*)
      print list
      print -rl -- ${(s:,:)${want#words:}} ;;
  esac
  return 0
}

_uwsrun() {
  local -a out
  out=("${(@f)$(__uwsrun_candidates)}")
  [[ ${words[CURRENT]} == --*=* ]] && compset -P '*='
  case ${out[1]} in
    file) _files ;;
    dir) _files -/ ;;
    list) (( $#out > 1 )) && compadd -- "${(@)out[2,-1]}" ;;
  esac
}

if [[ ${funcstack[1]} == _uwsrun ]]; then
  _uwsrun "$@"
elif (( $+functions[compdef] )); then
  compdef _uwsrun uwsrun
fi
