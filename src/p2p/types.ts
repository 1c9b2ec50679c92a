// The seams between the libp2p side (src/p2p) and the rest of the agent.
// The agent hands p2p a LocalBlobs (what we hold, read access); p2p hands the fetch session a
// PeerNetwork (who holds what, fetch a range from a peer).

/** Half-open byte ranges [start, end), sorted, non-overlapping, merged. */
export type Ranges = Array<[number, number]>

export interface InventoryEntry {
  /** `sha256:<64 hex>` */
  digest: string
  size: number
  /** Verified complete (sha256 matched). */
  complete: boolean
  /** Bytes present (for a complete blob: [[0, size]]). */
  ranges: Ranges
  /** This agent is fetching the blob right now (its ranges will grow). */
  fetching: boolean
  /**
   * Byte ranges this agent is fetching from upstream right now: it will soon hold them, so a
   * neighbour that wants them waits instead of fetching them too. Optional on the wire.
   */
  claimed?: Ranges
}

export type InventoryChange =
  | { type: 'update', entry: InventoryEntry }
  | { type: 'remove', digest: string }

/** What this agent holds and is willing to share (credentialed, non-shareable blobs are left out). */
export interface LocalBlobs {
  /** Every shareable blob, complete or partial. */
  inventory (): Promise<InventoryEntry[]>
  /** Subscribe to changes; returns an unsubscribe function. Changes arrive often: throttle. */
  onChange (listener: (change: InventoryChange) => void): () => void
  /**
   * Read bytes [start, end) that are present. Throws PeerRangeError (src/errors.ts) when the
   * digest is unknown, not shareable, outside the blob, or some of the bytes are not held.
   */
  read (digest: string, start: number, end: number, signal?: AbortSignal): AsyncIterable<Uint8Array>
  /** Per-piece sha256 hashes of a verified complete blob (piece size PIECE_SIZE), or undefined. */
  pieceHashes (digest: string): Promise<Uint8Array[] | undefined>
}

/** Piece size for per-piece hashes and peer range requests. Fixed: it is part of the protocol. */
export const PIECE_SIZE = 4 * 1024 * 1024

export interface PeerHolding {
  peerId: string
  size: number
  complete: boolean
  ranges: Ranges
  fetching: boolean
  /** Ranges it is fetching from upstream right now (see InventoryEntry.claimed). */
  claimed: Ranges
}

export interface PeerInfo {
  peerId: string
  addresses: string[]
  blobs: number
  completeBlobs: number
  bytes: number
  bannedUntil?: number
}

export interface PeerNetwork {
  /** Our own peer id (base58). */
  readonly peerId: string
  /** Connected, non-banned peers that hold some of `digest`. */
  holders (digest: string): PeerHolding[]
  /** Called when a peer's inventory for `digest` changes (or a peer goes away). Returns unsubscribe. */
  onHoldersChange (listener: (digest: string) => void): () => void
  /**
   * Fetch bytes [start, end) of `digest` from `peerId`. Yields exactly end - start bytes or throws
   * (PeerRangeError for an error frame, PeerProtocolError for garbage, AbortedError on abort).
   */
  fetchRange (peerId: string, digest: string, start: number, end: number, signal?: AbortSignal): AsyncIterable<Uint8Array>
  /** Per-piece hashes for a blob from a peer that holds it complete, or undefined. */
  fetchPieceHashes (peerId: string, digest: string, signal?: AbortSignal): Promise<Uint8Array[] | undefined>
  /** Stop using a peer for a while (it sent bad bytes). */
  ban (peerId: string, ms: number, reason: string): void
  peers (): PeerInfo[]
  start (): Promise<void>
  stop (): Promise<void>
}
