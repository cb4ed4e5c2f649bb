// Bundles src/main.ts into dist/uwsrun.cjs: one CommonJS file, so a command parses one
// script and resolves no module graph (startup is most of a command's cost).
// commander loads node:child_process at start-up for executable subcommands, which uwsrun
// does not use; that costs ~3 ms (it pulls in net and stream) on every command, so inside
// commander it is replaced by a stand-in that loads the real module on first use.
import { build } from 'esbuild';

const lazyChildProcess = {
  name: 'lazy-child-process-in-commander',
  setup(b) {
    b.onResolve({ filter: /^node:child_process$/ }, (args) =>
      args.importer.includes('/node_modules/commander/') ? { path: 'lazy-child-process', namespace: 'uwsrun' } : undefined);
    b.onLoad({ filter: /^lazy-child-process$/, namespace: 'uwsrun' }, () => ({
      loader: 'js',
      contents: "module.exports = new Proxy({}, { get: (_, key) => require('node:child_process')[key] });",
    }));
  },
};

await build({
  entryPoints: ['src/main.ts'],
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  outfile: 'dist/uwsrun.cjs',
  supported: { 'dynamic-import': false },
  plugins: [lazyChildProcess],
  logLevel: 'warning',
  // Half the source to read and hash at every start: ~2 ms of a ~61 ms submit. (keepNames,
  // for readable internal-error stacks, cost ~1 ms of it back: debug with a plain build.)
  minify: true,
});
