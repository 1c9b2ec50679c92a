// What each peer holds: peer → digest → entry, as its inventory stream told us, with a digest
// index so holders() does not scan every peer.

import { holderOf, type Holder } from '../../routing/router.js'
import { rangesBytes } from '../../util/ranges.js'
import type { InventoryEntry } from '../types.js'

export class HoldersTable {
  private readonly byPeer = new Map<string, Map<string, InventoryEntry>>()
  private readonly byDigest = new Map<string, Map<string, InventoryEntry>>()

  /** Replace a peer's whole inventory; returns the digests whose holders changed. */
  replacePeer (peer: string, entries: Map<string, InventoryEntry>): Set<string> {
    const changed = this.dropPeer(peer)
    for (const e of entries.values()) {
      this.set(peer, e)
      changed.add(e.digest)
    }
    return changed
  }

  set (peer: string, e: InventoryEntry): void {
    let p = this.byPeer.get(peer)
    if (p === undefined) { p = new Map(); this.byPeer.set(peer, p) }
    p.set(e.digest, e)
    let d = this.byDigest.get(e.digest)
    if (d === undefined) { d = new Map(); this.byDigest.set(e.digest, d) }
    d.set(peer, e)
  }

  remove (peer: string, digest: string): boolean {
    const p = this.byPeer.get(peer)
    if (p?.delete(digest) !== true) return false
    this.unindex(peer, digest)
    return true
  }

  /** Forget a peer; returns the digests it held. */
  dropPeer (peer: string): Set<string> {
    const p = this.byPeer.get(peer)
    const digests = new Set<string>()
    if (p === undefined) return digests
    for (const digest of p.keys()) {
      digests.add(digest)
      this.unindex(peer, digest)
    }
    this.byPeer.delete(peer)
    return digests
  }

  private unindex (peer: string, digest: string): void {
    const d = this.byDigest.get(digest)
    d?.delete(peer)
    if (d?.size === 0) this.byDigest.delete(digest)
  }

  /** Holders of `digest` for which `include(peer)` says yes (copies: callers may keep them). */
  holders (digest: string, include: (peer: string) => boolean): Holder[] {
    const out: Holder[] = []
    for (const [peerId, e] of this.byDigest.get(digest) ?? []) {
      if (include(peerId)) out.push(holderOf(peerId, e))
    }
    return out
  }

  get (peer: string, digest: string): InventoryEntry | undefined {
    return this.byPeer.get(peer)?.get(digest)
  }

  digestsOf (peer: string): string[] {
    return [...(this.byPeer.get(peer)?.keys() ?? [])]
  }

  stats (peer: string): { blobs: number, completeBlobs: number, bytes: number } {
    let blobs = 0; let completeBlobs = 0; let bytes = 0
    for (const e of this.byPeer.get(peer)?.values() ?? []) {
      blobs++
      if (e.complete) completeBlobs++
      bytes += rangesBytes(e.ranges)
    }
    return { blobs, completeBlobs, bytes }
  }
}
