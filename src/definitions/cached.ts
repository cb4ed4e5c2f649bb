// Definitions for commands on the hot path (submit). Parsing and validating YAML costs more
// than the rest of a submit (the yaml and valibot code must be compiled and run cold), so a
// file that validated is remembered in HOME/cache/ as its resolved JSON, keyed by the file's
// path, inode, size, mtime and ctime: any edit, rename or replacement misses the cache and is
// parsed and checked afresh. Only files that validated are cached, so every error message
// still comes from the real parser. The YAML code is loaded only on a miss.

import { mkdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { DefinitionsFile } from './schema.js';
import { fileKey } from '../store/home.js';
import { readOwnFile, replaceFile } from '../store/durable.js';

interface CacheEntry {
  key: string;
  file: DefinitionsFile;
}

const cacheName = (path: string): string => `defs-${fileKey(path)}.json`;

/** Counted up whenever the resolved form changes, so a cache written by an older uwsrun is a miss. */
const CACHE_FORMAT = 2;

/** Loads (and, when cacheDir's parent HOME exists, caches) a definitions file. */
export async function loadDefinitionsCached(path: string, cacheDir: string | null): Promise<DefinitionsFile> {
  const { file, remember } = await readDefinitionsCached(path, cacheDir);
  if (cacheDir) remember(cacheDir);
  return file;
}

/**
 * Loads a definitions file through the cache, and leaves writing a fresh cache entry to the
 * caller (`remember`, a no-op on a hit): `submit` calls it only once the job is created, so
 * a refused submit (an unknown definition, a bad value) writes nothing (SPEC §3), and the
 * first submit of a new HOME, which made the HOME, warms the cache.
 */
export async function readDefinitionsCached(
  path: string, cacheDir: string | null,
): Promise<{ file: DefinitionsFile; remember: (cacheDir: string) => void }> {
  const abs = resolve(path);
  let key: string | undefined;
  try {
    const st = statSync(abs, { bigint: true });
    // A pipe gives other text each time it is read: only a regular file can be cached.
    if (st.isFile()) key = `${CACHE_FORMAT}\0${abs}\0${st.ino}\0${st.size}\0${st.mtimeNs}\0${st.ctimeNs}`;
  } catch {
    // Missing or unreadable: the loader says so properly.
  }
  if (key && cacheDir) {
    try {
      const entry = JSON.parse(readOwnFile(join(cacheDir, cacheName(abs)))) as CacheEntry;
      if (entry.key === key) return { file: entry.file, remember: () => {} };
    } catch { /* a miss */ }
  }
  const { loadDefinitions } = await import('./load.js');
  const file = loadDefinitions(path);
  const remember = (dir: string): void => {
    if (!key) return;
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      replaceFile(join(dir, cacheName(abs)), JSON.stringify({ key, file } satisfies CacheEntry));
    } catch { /* the cache is only an optimisation */ }
  };
  return { file, remember };
}
