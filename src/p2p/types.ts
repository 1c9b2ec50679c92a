// The seams between the libp2p side (src/p2p) and the rest of the agent.
// The agent hands p2p a LocalBlobs (what we hold, read access). p2p hands fetch sessions the
// PeerSources: a ContentRouter (who holds what), PeerTransfers (bytes from a peer) and the
// PeerHealth that remembers how each peer behaved.

import type { ContentRouter, Holder, Holding } from '../routing/router.js'
import type { Ranges } from '../util/ranges.js'
import type { PeerHealth } from './peer-health.js'

export type { Ranges }
export { PIECE_SIZE } from '../util/pieces.js'

/** One blob in an agent's inventory, as the inventory protocol carries it. */
export type InventoryEntry = Holding

/** A peer's holding of a blob. */
export type PeerHolding = Holder

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
   * digest is unknown, not shareable, outside the blob, or some of the bytes are not held. A
   * chunk may carry a hold (src/util/lent.ts): let go of it once sent and its buffer is reused;
   * a caller that never lets go only costs that reuse.
   */
  read (digest: string, start: number, end: number, signal?: AbortSignal): AsyncIterable<Uint8Array>
  /** Per-piece sha256 hashes of a verified complete blob (piece size PIECE_SIZE), or undefined. */
  pieceHashes (digest: string): Promise<Uint8Array[] | undefined>
}

/** What peer bytes are checked against: the blob's size and the sha256 of every piece. */
export interface PieceCheck {
  size: number
  hashes: readonly Uint8Array[]
}

/** Bytes and piece hashes from one peer. */
export interface PeerTransfers {
  /**
   * Fetch bytes [start, end) of `digest` from `peerId`. Yields exactly end - start bytes or throws
   * (PeerRangeError for an error frame, PeerProtocolError for garbage, AbortedError on abort).
   * With `check`, the whole pieces around the range are fetched and each is verified before any
   * of it is yielded: a bad one throws BadPieceError (src/p2p/protocol.ts). Empty chunks may
   * come in between: heartbeats while a piece is still arriving (a stall watchdog's progress).
   * A chunk's bytes are the caller's only until it asks for the next one, unless it `hold`s them
   * (src/util/lent.ts): pieces from the data plane are lent, and their buffers reused.
   */
  fetchRange (peerId: string, digest: string, start: number, end: number, signal?: AbortSignal, check?: PieceCheck): AsyncIterable<Uint8Array>
  /** Per-piece hashes for a blob from a peer that holds it complete, or undefined. */
  fetchPieceHashes (peerId: string, digest: string, signal?: AbortSignal): Promise<Uint8Array[] | undefined>
}

/** What a fetch session needs of the office. */
export interface PeerSources {
  /** Our own peer id (base58). */
  readonly peerId: string
  readonly router: ContentRouter
  readonly transfers: PeerTransfers
  readonly health: PeerHealth
  /** Connected layerd peers right now. */
  neighbours (): number
}

export interface PeerInfo {
  peerId: string
  addresses: string[]
  /** How it came to be connected: configured (`static`), `mdns`, a `dht` lookup, or it dialled us (`inbound`). */
  foundBy?: 'static' | 'mdns' | 'dht' | 'inbound'
  /** We push our whole inventory to it (and its counts below are complete only if it does the same). */
  mesh?: boolean
  blobs: number
  completeBlobs: number
  bytes: number
  bannedUntil?: number
}

/** A tag as an agent of the office resolved it upstream. */
export interface OfficeTag { digest: string, mediaType: string, updatedAt: number, peerId: string }

/** The peer network: the sources for sessions, plus lifecycle and diagnostics. */
export interface PeerNetwork extends PeerSources {
  /** The newest digest the office knows for a tag (asked while upstream is away), or undefined. */
  resolveTag (q: { registry: string, repository: string, tag: string }): Promise<OfficeTag | undefined>
  /** We resolved a tag upstream: let the office find it. */
  tagResolved (q: { registry: string, repository: string, tag: string }): void
  /** A registry rate-limited us until `until` (ms since epoch): tell the office. */
  tellBackoff (registry: string, until: number): void
  peers (): PeerInfo[]
  /** Our listen multiaddrs with `/p2p/<id>` (after start()). */
  multiaddrs (): string[]
  start (): Promise<void>
  stop (): Promise<void>
}

