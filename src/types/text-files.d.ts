// Files esbuild bundles as text (scripts/build.mjs: loader '.pl': 'text'). Only the bundle
// can import them: the tsc build under build/ cannot, so tests never import src/run/wrapper.ts.
declare module '*.pl' {
  const text: string;
  export default text;
}
