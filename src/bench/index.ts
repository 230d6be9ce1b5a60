// The benchmark's browser-safe entry (the bench page bundles it): suite, engines, runner,
// breakdown, reports, and the peer engines (which import their packages only when loaded).
export * from './suite.js';
export * from './engine.js';
export * from './engines.js';
export * from './runner.js';
export * from './breakdown.js';
export * from './report.js';
export { loadPeers, peerModules, PEER_ENGINES, type PeerId, type Unavailable } from './peers.js';
