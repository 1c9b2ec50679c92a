// Entry point of the p2p side. The polyfill must load before anything imports libp2p.
import '../polyfill.js'

export {
  createPeerNetwork,
  officePrologue,
  PeerRefusedError,
  INVENTORY_PROTOCOL,
  RANGE_PROTOCOL,
  PIECES_PROTOCOL,
  SECRET_PROLOGUE_LABEL,
  MAX_CONTROL_FRAME_BYTES,
  INVENTORY_FRAME_TARGET,
  MAX_RANGES_PER_ENTRY,
  MAX_PIECES,
  type PeerNetworkInit,
  type LayerdPeerNetwork,
  type ErrorCode
} from './network.js'
export { loadOrCreatePeerKey, PEER_KEY_FILE } from './identity.js'
export { FrameError, StreamReader, sendCapped, encodeFrame } from './frames.js'
export * from './types.js'
