// Entry point of the p2p side: the facade, and the services it is made of (interfaces, Init and
// Components types, lowercase factories) for callers that compose their own. The polyfill must
// load before anything imports libp2p.
import '../polyfill.js'

export { createPeerNetwork, type PeerNetworkInit, type LayerdPeerNetwork } from './network.js'
export { createNode, officePrologue, SECRET_PROLOGUE_LABEL, type NodeInit, type LayerdNode } from './node.js'
export { connections, type Connections, type ConnectionsComponents, type ConnectionsInit } from './connections.js'
export { dialer, type Dialer, type DialerComponents, type DialerInit } from './dialer.js'
export { meshRouter, type MeshRouter, type MeshRouterComponents, type MeshRouterInit } from './mesh-router.js'
export { uploads, type Uploads, type UploadsComponents, type UploadsInit, type UploadSlot } from './uploads.js'
export { rangeProtocol, type RangeService, type RangeComponents, type RangeInit } from './range.js'
export { piecesProtocol, type PiecesService, type PiecesComponents, type PiecesInit } from './pieces.js'
export { PeerHealth, type PeerHealthInit, type HealthEvent } from './peer-health.js'
export {
  PeerRefusedError,
  INVENTORY_PROTOCOL,
  INVENTORY_PROTOCOL_V11,
  INVENTORY_PROTOCOL_V12,
  RANGE_PROTOCOL,
  PIECES_PROTOCOL,
  MAX_CONTROL_FRAME_BYTES,
  INVENTORY_FRAME_TARGET,
  MAX_RANGES_PER_ENTRY,
  MAX_PIECES,
  type ErrorCode,
  type ProtocolServiceInit
} from './protocol.js'
export { loadOrCreatePeerKey, PEER_KEY_FILE } from './identity.js'
export { FrameError, StreamReader, sendCapped, encodeFrame } from './frames.js'
export * from './types.js'
