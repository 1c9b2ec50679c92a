import { DEFAULTS } from '../config/defaults.js'

export interface SessionInit {
  /** Parallel upstream transfers for one blob (chunked clients ask for several offsets). Default 4. */
  maxUpstreamStreams?: number
  /**
   * Upstream requests ask for at most this many bytes (a closed Range), so a transfer never has
   * to be cut short — bytes in flight on a cut connection would be paid for and thrown away.
   * A reader waiting beyond the running request gets its own request. Default 32 MiB.
   */
  segmentBytes?: number
  /** Keep fetching with no reader attached for at most this long. Default 10 min. */
  detachedTimeoutMs?: number
  /** Bytes held back from a reader at the end of the blob until the sha256 verified. Default 64 KiB. */
  tailHoldBytes?: number
  /** Parallel peer transfers for one blob. Default 6. */
  maxPeerTransfers?: number
  /** Parallel peer transfers of the agent, over all blobs (memory). Default 8. */
  maxPeerTransfersTotal?: number
  /** Parallel transfers from one peer (its upload limit answers BUSY beyond). Default 2. */
  perPeerTransfers?: number
  /** A peer transfer with no byte for this long moves to another source. Default 5 s. */
  peerStallMs?: number
  /** A peer that is fetching the blob but whose holdings stopped growing this long loses its share. Default 15 s (a shaped, shared link can starve one TCP connection for seconds). */
  ownerStallMs?: number
  /** A peer caught sending bad bytes is not used for this long. Default 10 min. */
  banMs?: number
}

export type SessionOptions = Required<SessionInit>

/** The options of a session, every default from DEFAULTS.fetch. */
export function resolveSessionOptions (i: SessionInit): SessionOptions {
  const d = DEFAULTS.fetch
  return {
    maxUpstreamStreams: i.maxUpstreamStreams ?? d.maxUpstreamStreams,
    segmentBytes: i.segmentBytes ?? d.segmentBytes,
    detachedTimeoutMs: i.detachedTimeoutMs ?? d.detachedTimeoutMs,
    tailHoldBytes: i.tailHoldBytes ?? d.tailHoldBytes,
    maxPeerTransfers: i.maxPeerTransfers ?? d.maxPeerTransfers,
    maxPeerTransfersTotal: i.maxPeerTransfersTotal ?? d.maxPeerTransfersTotal,
    perPeerTransfers: i.perPeerTransfers ?? d.perPeerTransfers,
    peerStallMs: i.peerStallMs ?? d.peerStallMs,
    ownerStallMs: i.ownerStallMs ?? d.ownerStallMs,
    banMs: i.banMs ?? d.banMs
  }
}
