// The shell scripts next to this file are bundled as text (esbuild's text loader, see
// scripts/build.mjs): importing one gives its content.
declare module '*.bash' {
  const text: string;
  export default text;
}
declare module '*.zsh' {
  const text: string;
  export default text;
}
