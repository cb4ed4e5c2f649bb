// Listing a job's result files: regular files only, never through a symlink, sorted by id,
// with sizes and MIME types; plus the extension table of mime.ts.

import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isAbsolute, join, relative } from 'node:path';
import { MAX_RESULTS, listResults } from '../../src/run/results.js';
import { mimeTypeOf } from '../../src/run/mime.js';

const root = mkdtempSync(join(tmpdir(), 'uwsrun-results-'));
after(() => rmSync(root, { recursive: true, force: true }));

/** A results dir with files at several depths and every kind of thing that must be skipped. */
function makeResultsDir(): string {
  const dir = join(root, 'job', 'results');
  const outside = join(root, 'outside');
  mkdirSync(join(dir, 'sub', 'deep', 'er'), { recursive: true });
  mkdirSync(outside, { recursive: true });
  writeFileSync(join(outside, 'secret.txt'), 'not a result');
  writeFileSync(join(dir, 'a.txt'), 'hello');
  writeFileSync(join(dir, 'empty.log'), '');
  writeFileSync(join(dir, 'sub-file.txt'), 'x');
  writeFileSync(join(dir, 'sub', 'b.CSV'), 'x,y\n1,2\n');
  writeFileSync(join(dir, 'sub', 'deep', 'er', 'c.fits'), Buffer.alloc(2880));
  writeFileSync(join(dir, 'sub', 'deep', 'er', 'table.vot'), '<VOTABLE/>');
  mkdirSync(join(dir, 'empty-dir'));
  symlinkSync('/etc/passwd', join(dir, 'passwd'));
  symlinkSync(outside, join(dir, 'outside'));
  symlinkSync('a.txt', join(dir, 'inside-link.txt'));
  symlinkSync('sub', join(dir, 'sub-link'));
  symlinkSync('does-not-exist', join(dir, 'dangling'));
  execFileSync('mkfifo', [join(dir, 'fifo')]);
  return dir;
}

describe('listResults', () => {
  const dir = makeResultsDir();

  test('lists regular files in nested directories, sorted by id with "/" separators', () => {
    assert.deepEqual(
      listResults(dir).map((r) => r.id),
      // '-' sorts before '/', so sub-file.txt comes before everything in sub/.
      ['a.txt', 'empty.log', 'sub-file.txt', 'sub/b.CSV', 'sub/deep/er/c.fits', 'sub/deep/er/table.vot'],
    );
  });

  test('never follows a symlink, to a file or a directory, inside or outside; skips FIFOs', () => {
    const ids = listResults(dir).map((r) => r.id);
    for (const skipped of ['passwd', 'outside/secret.txt', 'inside-link.txt', 'sub-link/b.CSV', 'dangling', 'fifo']) {
      assert.ok(!ids.includes(skipped), `${skipped} is not listed`);
    }
    for (const r of listResults(dir)) assert.ok(r.path.startsWith(dir + '/'), `${r.path} is inside`);
  });

  test('paths are absolute, sizes and MIME types are right', () => {
    assert.deepEqual(
      listResults(dir).map((r) => ({ ...r })),
      [
        { id: 'a.txt', path: join(dir, 'a.txt'), size: 5, mimeType: 'text/plain' },
        { id: 'empty.log', path: join(dir, 'empty.log'), size: 0, mimeType: 'text/plain' },
        { id: 'sub-file.txt', path: join(dir, 'sub-file.txt'), size: 1, mimeType: 'text/plain' },
        { id: 'sub/b.CSV', path: join(dir, 'sub/b.CSV'), size: 8, mimeType: 'text/csv' },
        { id: 'sub/deep/er/c.fits', path: join(dir, 'sub/deep/er/c.fits'), size: 2880, mimeType: 'image/fits' },
        {
          id: 'sub/deep/er/table.vot',
          path: join(dir, 'sub/deep/er/table.vot'),
          size: 10,
          mimeType: 'application/x-votable+xml',
        },
      ],
    );
  });

  test('a relative results dir still gives absolute paths', () => {
    const results = listResults(relative(process.cwd(), dir));
    assert.equal(results.length, 6);
    for (const r of results) assert.ok(isAbsolute(r.path) && r.path === join(dir, r.id));
  });

  test('a missing results dir gives an empty list', () => {
    assert.deepEqual(listResults(join(root, 'no-such-dir')), []);
  });

  test('a results dir that is itself a symlink lists nothing', () => {
    const link = join(root, 'results-link');
    symlinkSync(join(root, 'outside'), link);
    assert.deepEqual(listResults(link), []);
  });

  test('the listing stops at the cap, 10,000 files by default', () => {
    const many = join(root, 'many');
    mkdirSync(many);
    for (let i = 0; i < MAX_RESULTS + 5; i++) writeFileSync(join(many, `f${i}.dat`), '');
    assert.equal(MAX_RESULTS, 10_000);
    assert.equal(listResults(many).length, MAX_RESULTS);
    assert.equal(listResults(many, 3).length, 3);
  });
});

describe('mimeTypeOf', () => {
  const cases: [string, string][] = [
    ['run.log', 'text/plain'],
    ['notes.TXT', 'text/plain'],
    ['t.csv', 'text/csv'],
    ['t.tsv', 'text/tab-separated-values'],
    ['t.json', 'application/json'],
    ['t.xml', 'application/xml'],
    ['t.votable', 'application/x-votable+xml'],
    ['image.FITS', 'image/fits'],
    ['image.fit', 'image/fits'],
    ['image.fts', 'image/fits'],
    ['image.fits.gz', 'application/gzip'],
    ['image.fits.fz', 'application/fits'],
    ['p.png', 'image/png'],
    ['p.JPG', 'image/jpeg'],
    ['p.jpeg', 'image/jpeg'],
    ['p.gif', 'image/gif'],
    ['p.svg', 'image/svg+xml'],
    ['d.pdf', 'application/pdf'],
    ['i.html', 'text/html'],
    ['i.htm', 'text/html'],
    ['a.tar', 'application/x-tar'],
    ['a.tar.gz', 'application/gzip'],
    ['a.zip', 'application/zip'],
    ['d.hdf5', 'application/x-hdf5'],
    ['d.h5', 'application/x-hdf5'],
    ['d.npy', 'application/octet-stream'],
    ['c.yaml', 'application/yaml'],
    ['c.yml', 'application/yaml'],
    ['README.md', 'text/markdown'],
    ['t.parquet', 'application/vnd.apache.parquet'],
    ['unknown.xyz', 'application/octet-stream'],
    ['no-extension', 'application/octet-stream'],
    ['.txt', 'application/octet-stream'],
    ['dir.txt/data', 'application/octet-stream'],
    ['trailing.', 'application/octet-stream'],
  ];
  for (const [name, expected] of cases) {
    test(`${name} is ${expected}`, () => assert.equal(mimeTypeOf(name), expected));
  }
});
