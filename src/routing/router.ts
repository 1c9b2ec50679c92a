// The content-routing seam: who holds which bytes of a blob. Fetch sessions and the session
// manager ask a ContentRouter, never the peer network itself. The inventory mesh
// (src/p2p/mesh-router.ts) is the first implementation; MemoryRouter (./memory.ts) serves tests.

import type { Ranges } from '../util/ranges.js'

/** What an agent holds, or is fetching, of one blob, as it advertises it. */
export interface Holding {
  /** `sha256:<64 hex>` */
  digest: string
  size: number
  /** Verified complete (sha256 matched); `ranges` is then [[0, size]]. */
  complete: boolean
  /** Bytes present. */
  ranges: Ranges
  /** The agent is fetching the blob right now (its ranges will grow). */
  fetching: boolean
  /**
   * Ranges it is fetching from upstream right now: it will soon hold them, so a neighbour that
   * wants them waits instead of fetching them a second time.
   */
  claimed?: Ranges
}

/** One peer's holding of a blob. */
export interface Holder {
  peerId: string
  size: number
  complete: boolean
  ranges: Ranges
  fetching: boolean
  claimed: Ranges
}

export interface LookupOptions {
  signal?: AbortSignal
}

export interface ContentRouter {
  /**
   * Holders of `digest` that may be asked for bytes (connected, not banned). A router that has to
   * ask the network does so here, within a bounded time; the mesh answers from what it was told.
   */
  lookup (digest: string, opts?: LookupOptions): Promise<Holder[]>
  /** Holders known right now, without network traffic: planning asks often. */
  holders (digest: string): Holder[]
  /** Tell the office that this agent holds or fetches (some of) a blob; called on every change. */
  advertise (holding: Holding): void
  /** This agent no longer holds the blob. */
  withdraw (digest: string): void
  /** Subscribe to changes of the holders of any digest; returns the unsubscribe function. */
  onChange (listener: (digest: string) => void): () => void
  /** Nobody here needs holders of `digest` any more (its session ended): stop asking about it. */
  done? (digest: string): void
}

/** The holder with `peerId` as a Holder (a Holding without the digest). */
export function holderOf (peerId: string, h: Holding): Holder {
  return { peerId, size: h.size, complete: h.complete, ranges: h.ranges.map(([s, e]) => [s, e]), fetching: h.fetching, claimed: (h.claimed ?? []).map(([s, e]) => [s, e]) }
}
