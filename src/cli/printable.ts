// What a terminal may be sent. Human output (tables, `show`, messages that echo user input)
// passes every piece of text that came from a user, a job or the disk through `printable`,
// so a run id holding `\e[31m` cannot recolour the terminal and a newline in a parameter
// cannot break a table into two rows (SPEC §4). Control characters are written as escapes:
// `\n \r \t` by name, the other C0 and C1 controls and DEL as `\xHH`, and the Unicode
// characters that reorder or break lines without being controls (bidi overrides and
// isolates, the line and paragraph separators) as `\u{HHHH}`. Backslashes are left as they
// are, so parameter text such as `\d+` reads as written.
// Machine output (--json, --xml, `logs`) is data and never goes through here.

const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

// C0, DEL, C1; U+2028/2029; bidi embeddings/overrides U+202A-202E and isolates U+2066-2069.
const UNSAFE = /[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

function escapeOne(ch: string): string {
  const named = NAMED[ch];
  if (named) return named;
  const code = ch.codePointAt(0)!;
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u{${code.toString(16)}}`;
}

/** `text` with every character that a terminal would act on written as an escape. */
export function printable(text: string): string {
  UNSAFE.lastIndex = 0;
  return UNSAFE.test(text) ? text.replace(UNSAFE, escapeOne) : text;
}

/** Each line of `text` made printable; the newlines between them are kept. */
export function printableLines(text: string): string {
  return text.split('\n').map(printable).join('\n');
}
