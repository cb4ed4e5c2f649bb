// Black-box tests of definitions-file errors (SPEC §3; issue 11): unknown keys anywhere are
// named with a suggestion, `validate` reports every error of a file (one line each, file
// order), `cwd: ~/...` is refused at submit instead of failing at run time, a relative cwd
// is the definitions file's directory, durations take units, and the keys of later features
// are accepted (executor: local runs; executor: slurm is refused at submit for now).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { BIN, Sandbox } from '../helpers.js';

const T = { timeout: 60_000 };

/** The job directories of the HOME (none when it does not exist). */
const jobDirs = (sb: Sandbox): string[] => (existsSync(join(sb.home, 'records')) ? readdirSync(join(sb.home, 'records')) : []);

test('validate reports every error of a file, one line each in file order, with did-you-mean for unknown keys', T, () => {
  const sb = new Sandbox([
    'defaults:',
    '  kilGrace: 5',
    'jobs:',
    '  reduce:',
    '    comand: [python3, reduce.py]',
    '    parameters:',
    '      sigma: { type: float, default: 3.0, mni: 0 }',
    '      night: { type: date, default: 2026-02-30 }',
    '  wrap:',
    '    command: [sh, -c, "echo {x}"]',
    '    executionDuration: 1 hour',
    '    notify: { command: [mail], on: [FAILED] }',
    '',
  ].join('\n'));
  try {
    const r = sb.run(['validate', sb.jobsFile]);
    assert.equal(r.code, 2, r.stderr);
    assert.equal(r.stdout, '');
    const f = sb.jobsFile;
    assert.deepEqual(r.stderr.trimEnd().split('\n'), [
      `uwsrun: ${f}:2:3: defaults.kilGrace: unknown key "kilGrace" (did you mean "killGrace"?)`,
      `uwsrun: ${f}:5:5: jobs.reduce.comand: unknown key "comand" (did you mean "command"?)`,
      `uwsrun: ${f}:7:43: jobs.reduce.parameters.sigma.mni: unknown key "mni" (did you mean "min"?)`,
      `uwsrun: ${f}:8:37: jobs.reduce.parameters.night.default: "2026-02-30" is not a date (YYYY-MM-DD)`,
      `uwsrun: ${f}:10:23: jobs.wrap.command[2]: unknown placeholder {x}; no parameters are declared; built-in: jobId, jobDir, resultsDir`,
      `uwsrun: ${f}:11:24: jobs.wrap.executionDuration: expected a duration (90s, 30m, 12h, 7d, or whole seconds; 0 to 2147483647 seconds), got "1 hour"`,
      `uwsrun: ${f}:12:37: jobs.wrap.notify.on[0]: expected one of COMPLETED, ERROR, ABORTED, got "FAILED"`,
    ]);
    // Every other command that reads the file says the first problem on one line (SPEC §3:
    // one clear message), and how many more there are, exit 2.
    for (const args of [['submit', 'reduce', '--run'], ['defs']]) {
      const one = sb.run(args);
      assert.equal(one.code, 2, one.stderr);
      assert.equal(one.stderr, `uwsrun: ${f}:2:3: defaults.kilGrace: unknown key "kilGrace" (did you mean "killGrace"?) (and 6 more problems in the file: \`uwsrun validate\` lists them all)\n`);
    }
  } finally {
    sb.cleanup();
  }
});

test('submit with a misspelt key is exit 2 naming it with the suggestion (not "missing command"), and creates nothing', T, () => {
  const sb = new Sandbox('jobs:\n  hello:\n    comand: [echo, hi]\n');
  try {
    const r = sb.run(['submit', 'hello', '--run']);
    assert.equal(r.code, 2);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr, `uwsrun: ${sb.jobsFile}:3:5: jobs.hello.comand: unknown key "comand" (did you mean "command"?)\n`);
    assert.equal(existsSync(sb.home), false, 'no HOME created');
    // A key far from every known one lists them instead.
    writeFileSync(sb.jobsFile, 'jobs:\n  hello:\n    command: [echo, hi]\n    timeout: 5\n');
    const listed = sb.run(['validate']);
    assert.equal(listed.code, 2);
    assert.match(listed.stderr, /jobs\.hello\.timeout: unknown key "timeout"; allowed: description, command, cwd, env, inheritEnv, parameters, executionDuration, destruction, killGrace, archive, executor, maxRunning, slurm, retries, retryDelay, notify\n$/);
  } finally {
    sb.cleanup();
  }
});

test('cwd ~/... (and cwd: ~) is refused at submit with a message, creating nothing', T, () => {
  const sb = new Sandbox('jobs:\n  home:\n    command: [pwd]\n    cwd: ~/data\n  bare:\n    command: [pwd]\n    cwd: ~\n');
  try {
    const r = sb.run(['submit', 'home', '--run']);
    assert.equal(r.code, 2);
    // submit: one line, the first problem, and the rest counted; validate lists them all.
    assert.deepEqual(r.stderr.trimEnd().split('\n'), [
      `uwsrun: ${sb.jobsFile}:4:10: jobs.home.cwd: "~/data": ~ is not expanded (no shell reads cwd); write the full path, or a path relative to the directory of this file (and 1 more problem in the file: \`uwsrun validate\` lists them all)`,
    ]);
    assert.deepEqual(sb.run(['validate']).stderr.trimEnd().split('\n'), [
      `uwsrun: ${sb.jobsFile}:4:10: jobs.home.cwd: "~/data": ~ is not expanded (no shell reads cwd); write the full path, or a path relative to the directory of this file`,
      `uwsrun: ${sb.jobsFile}:7:10: jobs.bare.cwd: "~": ~ is not expanded (no shell reads cwd); write the full path, or a path relative to the directory of this file`,
    ]);
    assert.deepEqual(jobDirs(sb), []);
  } finally {
    sb.cleanup();
  }
});

test("a relative cwd is the definitions file's directory, whoever submits from wherever", T, () => {
  const sb = new Sandbox('jobs:\n  where:\n    command: [pwd]\n    cwd: data/in\n');
  const elsewhere = mkdtempSync(join(tmpdir(), 'uwsrun-elsewhere-'));
  try {
    mkdirSync(join(sb.dir, 'data', 'in'), { recursive: true });
    const r = spawnSync(BIN, ['submit', 'where', '--wait'], { cwd: elsewhere, env: sb.env, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const id = r.stdout.trim();
    assert.equal(sb.job(id).phase, 'COMPLETED');
    assert.equal(sb.ok(['logs', id]), realpathSync(join(sb.dir, 'data', 'in')));
  } finally {
    rmSync(elsewhere, { recursive: true, force: true });
    sb.cleanup();
  }
});

test('durations with units in definitions; executor: local runs; executor: slurm validates and submits (PENDING, executor slurm)', T, () => {
  const sb = new Sandbox([
    'defaults:',
    '  executor: local',
    '  killGrace: 10s',
    'jobs:',
    '  timed:',
    '    command: ["true"]',
    '    executionDuration: 2h',
    '    destruction: 1d',
    '    retries: 1',
    '    retryDelay: 30s',
    '    notify: { command: [echo, "{jobId} {phase}"] }',
    '  cluster:',
    '    command: ["true"]',
    '    executor: slurm',
    '    slurm: { partition: debug, options: [--mem=4G] }',
    '',
  ].join('\n'));
  try {
    const v = sb.run(['validate']);
    assert.equal(v.code, 0, v.stderr);
    const r = sb.run(['submit', 'timed', '--wait']);
    assert.equal(r.code, 0, r.stderr);
    const job = sb.job(r.stdout.trim());
    assert.equal(job.phase, 'COMPLETED');
    assert.equal(job.executionDuration, 7200);
    assert.equal(Date.parse(job.destruction) - Date.parse(job.creationTime), 86_400_000);
    const before = jobDirs(sb);
    // A slurm job is a job like any other until it is handed over (SPEC §11): PENDING here.
    const s = sb.run(['submit', 'cluster']);
    assert.equal(s.code, 0, s.stderr);
    const cluster = sb.job(s.stdout.trim());
    assert.equal(cluster.phase, 'PENDING');
    assert.equal(cluster.executor, 'slurm');
    assert.equal(cluster.slurmJobId, null);
    assert.equal(job.executor, 'local');
    assert.equal(jobDirs(sb).length, before.length + 1);
  } finally {
    sb.cleanup();
  }
});
