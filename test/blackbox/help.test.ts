// Black-box: what people see when they ask for help or get the command line wrong. Every
// command's --help ends with an example of itself; commander's own errors read like
// uwsrun's (one line, `uwsrun: ...`, exit 2) and change nothing.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { Sandbox } from '../helpers.js';

/** The commands `uwsrun --help` lists (help itself aside). */
function listedCommands(sb: Sandbox): string[] {
  const r = sb.run(['--help']);
  assert.equal(r.code, 0, r.stderr);
  const start = r.stdout.indexOf('Commands:');
  const end = r.stdout.indexOf('\n\n', start);
  const section = r.stdout.slice(start, end < 0 ? undefined : end);
  const names = [...section.matchAll(/^ {2}([a-z][a-z-]*)\b/gm)].map((m) => m[1]!).filter((n) => n !== 'help');
  assert.ok(names.length >= 15, `commands listed: ${names.join(' ')}`);
  return names;
}

test("every command's --help shows an example of that command", () => {
  const sb = new Sandbox();
  try {
    const top = sb.run(['--help']);
    assert.match(top.stdout, /\nExamples?:\n {2}uwsrun /, 'uwsrun --help has examples');
    for (const name of listedCommands(sb)) {
      for (const args of [[name, '--help'], ['help', name]]) {
        const r = sb.run(args);
        assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
        const example = /\nExamples?:\n((?: {2}.*\n)+)/.exec(r.stdout);
        assert.ok(example, `uwsrun ${args.join(' ')} shows an example:\n${r.stdout}`);
        assert.match(example[1]!, new RegExp(`uwsrun (-q )?${name}\\b`), `the example of ${name} uses ${name}`);
      }
    }
  } finally {
    sb.cleanup();
  }
});

test("commander's errors read like uwsrun's: one line, uwsrun: ..., exit 2, nothing created", () => {
  const sb = new Sandbox();
  try {
    const cases: Array<[string[], RegExp]> = [
      [['--bogus'], /^uwsrun: unknown option '--bogus'\n$/],
      [['show', '--bogus', 'x'], /^uwsrun: unknown option '--bogus'\n$/],
      [['subit', 'hello'], /^uwsrun: unknown command 'subit' \(did you mean submit\?\)\n$/],
      [['frobnicate'], /^uwsrun: unknown command 'frobnicate'\n$/],
      [['show'], /^uwsrun: missing required argument 'id'\n$/],
      [['show', 'a', 'b'], /^uwsrun: too many arguments for 'show'\. Expected 1 argument but got 2\.\n$/],
      [['submit', 'hello', '--timeout'], /^uwsrun: option '--timeout <duration>' argument missing\n$/],
      [['completion', 'fish'], /^uwsrun: .*'fish'.*bash, zsh\.?\n$/],
    ];
    for (const [args, message] of cases) {
      const r = sb.run(args);
      assert.equal(r.code, 2, `uwsrun ${args.join(' ')}: exit ${r.code} ${r.stderr}`);
      assert.match(r.stderr, message, `uwsrun ${args.join(' ')}`);
      assert.equal(r.stdout, '');
    }
    // uwsrun's own usage errors have the same shape.
    const own = sb.run(['show', '--json', '--xml', 'abcdef']);
    assert.equal(own.code, 2);
    assert.match(own.stderr, /^uwsrun: [^\n]+\n$/);
    assert.equal(existsSync(sb.home), false, 'no command above created the HOME');
  } finally {
    sb.cleanup();
  }
});
