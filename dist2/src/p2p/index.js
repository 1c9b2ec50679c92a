// Entry point of the p2p side: the facade, and the services it is made of (interfaces, Init and
// Components types, lowercase factories) for callers that compose their own. The polyfill must
// load before anything imports libp2p.
import '../polyfill.js';
export { createPeerNetwork } from './network.js';
export { createNode, officePrologue, SECRET_PROLOGUE_LABEL } from './node.js';
export { connections } from './connections.js';
export { dialer } from './dialer.js';
export { meshRouter } from './mesh-router.js';
export { uploads } from './uploads.js';
export { rangeProtocol } from './range.js';
export { piecesProtocol } from './pieces.js';
export { PeerHealth } from './peer-health.js';
export { PeerRefusedError, INVENTORY_PROTOCOL, RANGE_PROTOCOL, PIECES_PROTOCOL, MAX_CONTROL_FRAME_BYTES, INVENTORY_FRAME_TARGET, MAX_RANGES_PER_ENTRY, MAX_PIECES } from './protocol.js';
export { loadOrCreatePeerKey, PEER_KEY_FILE } from './identity.js';
export { FrameError, StreamReader, sendCapped, encodeFrame } from './frames.js';
export * from './types.js';
//# sourceMappingURL=index.js.map