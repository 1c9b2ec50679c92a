// Entry point of the p2p side. The polyfill must load before anything imports libp2p.
import '../polyfill.js'

export { createPeerNetwork, type PeerNetworkInit, type LayerdPeerNetwork } from './network.js'
export { legacyView } from './legacy.js'
export { officePrologue, SECRET_PROLOGUE_LABEL } from './node.js'
export {
  PeerRefusedError,
  INVENTORY_PROTOCOL,
  RANGE_PROTOCOL,
  PIECES_PROTOCOL,
  MAX_CONTROL_FRAME_BYTES,
  INVENTORY_FRAME_TARGET,
  MAX_RANGES_PER_ENTRY,
  MAX_PIECES,
  type ErrorCode
} from './protocol.js'
export { loadOrCreatePeerKey, PEER_KEY_FILE } from './identity.js'
export { FrameError, StreamReader, sendCapped, encodeFrame } from './frames.js'
export * from './types.js'
