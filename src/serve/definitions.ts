// The definitions a server offers: the HOME's definitions file ($UWSRUN_JOBS, else
// HOME/jobs.yaml, as for submit), read at start and again whenever the file changes (its
// inode, size, mtime or ctime; one stat per request). An edit that does not validate keeps
// the last good definitions in service and is logged once: a typo in the YAML must not take
// the service down. The CLI's cache (definitions/cached.ts) does the parsing.

import { statSync } from 'node:fs';
import type { DefinitionsFile } from '../definitions/schema.js';
import { loadDefinitionsCached } from '../definitions/cached.js';

export class LiveDefinitions {
  private key = '';

  private constructor(
    readonly path: string,
    private readonly cacheDir: string | null,
    private current: DefinitionsFile,
    private readonly log: (line: string) => void,
  ) {}

  /** Loads the file; its errors (exit 2) are the caller's to report. */
  static async load(path: string, cacheDir: string | null, log: (line: string) => void): Promise<LiveDefinitions> {
    const key = statKey(path);
    const live = new LiveDefinitions(path, cacheDir, await loadDefinitionsCached(path, cacheDir), log);
    live.key = key;
    return live;
  }

  /** The definitions now in service. */
  async get(): Promise<DefinitionsFile> {
    const key = statKey(this.path);
    if (key === this.key) return this.current;
    this.key = key;
    try {
      this.current = await loadDefinitionsCached(this.path, this.cacheDir);
    } catch (err) {
      this.log(`definitions file ${this.path} changed but cannot be used (${(err as Error).message.split('\n')[0]}); still serving the definitions read before`);
    }
    return this.current;
  }
}

function statKey(path: string): string {
  try {
    const st = statSync(path, { bigint: true });
    return `${st.ino}/${st.size}/${st.mtimeNs}/${st.ctimeNs}`;
  } catch {
    return 'missing';
  }
}
