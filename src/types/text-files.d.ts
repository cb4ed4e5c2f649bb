// Files esbuild bundles as text (scripts/build.mjs: loader '.pl': 'text'). Only the bundle
// can import them: the tsc build under build/ cannot, so tests never import src/executors/local/launcher.ts.
declare module '*.pl' {
  const text: string;
  export default text;
}
