// Where the bench page's worker imports the peer engines from, and where tools/bench-web.mjs
// serves them: paths on the page's own origin (a browser cannot import() a package by name).
export const PEER_URLS = {
  ort: '/peers/ort/ort.wasm.min.mjs',
  ortWasmPaths: '/peers/ort/',
  tf: '/peers/tfjs/tfjs.js',
};
