// Inventory bookkeeping: what peers hold (HoldersTable), the per-digest throttle for our own
// updates (ChangeThrottler) and the encoding of inventory frames under a size budget.

import type { InventoryChange, InventoryEntry, PeerHolding, Ranges } from './types.js'
import { encodeJsonFrame } from './frames.js'

interface Holding { size: number, complete: boolean, ranges: Ranges, fetching: boolean, claimed: Ranges }

/** peer → digest → holding, with a digest index so holders() does not scan every peer. */
export class HoldersTable {
  private readonly byPeer = new Map<string, Map<string, Holding>>()
  private readonly byDigest = new Map<string, Map<string, Holding>>()

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
    const h: Holding = { size: e.size, complete: e.complete, ranges: e.ranges, fetching: e.fetching, claimed: e.claimed ?? [] }
    let p = this.byPeer.get(peer)
    if (p === undefined) { p = new Map(); this.byPeer.set(peer, p) }
    p.set(e.digest, h)
    let d = this.byDigest.get(e.digest)
    if (d === undefined) { d = new Map(); this.byDigest.set(e.digest, d) }
    d.set(peer, h)
  }

  remove (peer: string, digest: string): boolean {
    const p = this.byPeer.get(peer)
    if (p?.delete(digest) !== true) return false
    const d = this.byDigest.get(digest)
    d?.delete(peer)
    if (d?.size === 0) this.byDigest.delete(digest)
    return true
  }

  /** Forget a peer; returns the digests it held. */
  dropPeer (peer: string): Set<string> {
    const p = this.byPeer.get(peer)
    const digests = new Set<string>()
    if (p === undefined) return digests
    for (const digest of p.keys()) {
      digests.add(digest)
      const d = this.byDigest.get(digest)
      d?.delete(peer)
      if (d?.size === 0) this.byDigest.delete(digest)
    }
    this.byPeer.delete(peer)
    return digests
  }

  holders (digest: string, include: (peer: string) => boolean): PeerHolding[] {
    const d = this.byDigest.get(digest)
    if (d === undefined) return []
    const out: PeerHolding[] = []
    for (const [peerId, h] of d) {
      if (include(peerId)) out.push({ peerId, size: h.size, complete: h.complete, ranges: h.ranges.map(r => [r[0], r[1]]), fetching: h.fetching, claimed: h.claimed.map(r => [r[0], r[1]]) })
    }
    return out
  }

  get (peer: string, digest: string): Holding | undefined {
    return this.byPeer.get(peer)?.get(digest)
  }

  digestsOf (peer: string): string[] {
    return [...(this.byPeer.get(peer)?.keys() ?? [])]
  }

  stats (peer: string): { blobs: number, completeBlobs: number, bytes: number } {
    const p = this.byPeer.get(peer)
    let blobs = 0; let completeBlobs = 0; let bytes = 0
    for (const h of p?.values() ?? []) {
      blobs++
      if (h.complete) completeBlobs++
      for (const [s, e] of h.ranges) bytes += e - s
    }
    return { blobs, completeBlobs, bytes }
  }
}

/**
 * Per-digest throttle for outgoing updates: the first update of a digest goes out at once, later
 * ones at most every `intervalMs` (only the newest is kept). Removes go out at once and cancel
 * a pending update.
 */
export class ChangeThrottler {
  private readonly state = new Map<string, { until: number, pending?: InventoryEntry }>()
  private timer?: NodeJS.Timeout

  constructor (private readonly intervalMs: number, private readonly emit: (change: InventoryChange) => void) {}

  push (change: InventoryChange): void {
    if (change.type === 'remove') {
      this.state.delete(change.digest)
      this.emit(change)
      return
    }
    const now = Date.now()
    const digest = change.entry.digest
    const s = this.state.get(digest)
    if (this.intervalMs <= 0 || s === undefined || now >= s.until) {
      this.state.set(digest, { until: now + this.intervalMs })
      this.emit(change)
      this.schedule()
      return
    }
    s.pending = change.entry
    this.schedule()
  }

  private schedule (): void {
    if (this.timer !== undefined || this.state.size === 0) return
    let next = Infinity
    for (const s of this.state.values()) next = Math.min(next, s.until)
    this.timer = setTimeout(() => { this.timer = undefined; this.flush() }, Math.max(1, next - Date.now()))
    this.timer.unref()
  }

  private flush (): void {
    const now = Date.now()
    for (const [digest, s] of this.state) {
      if (now < s.until) continue
      if (s.pending !== undefined) {
        const entry = s.pending
        s.pending = undefined
        s.until = now + this.intervalMs
        this.emit({ type: 'update', entry })
      } else {
        this.state.delete(digest)
      }
    }
    this.schedule()
  }

  stop (): void {
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = undefined
    this.state.clear()
  }
}

/** JSON for one entry, trimmed to fit `budget` bytes by dropping the smallest ranges (under-claiming is safe). */
export function entryJson (e: InventoryEntry, budget: number): string | undefined {
  const claimed = e.claimed !== undefined && e.claimed.length > 0 ? e.claimed : undefined
  let json = JSON.stringify({ digest: e.digest, size: e.size, complete: e.complete, ranges: e.ranges, fetching: e.fetching, claimed })
  if (json.length <= budget) return json
  if (e.complete) return undefined
  // Keep the largest ranges that fit (each range costs at most ~36 bytes of JSON).
  const keep = Math.max(0, Math.floor((budget - 200) / 36))
  const ranges = [...e.ranges].sort((a, b) => (b[1] - b[0]) - (a[1] - a[0])).slice(0, keep).sort((a, b) => a[0] - b[0])
  json = JSON.stringify({ digest: e.digest, size: e.size, complete: false, ranges, fetching: e.fetching, claimed: claimed?.slice(0, 16) })
  return json.length <= budget ? json : undefined
}

/**
 * Encode entries (or digests for `remove`) into frames whose bodies stay within `budget` bytes.
 * `kind` 'inventory' marks the last frame `done: true` (an empty snapshot is one frame).
 */
export function encodeEntryFrames (kind: 'inventory' | 'update', entries: Iterable<InventoryEntry>, budget: number): Uint8Array[] {
  const head = kind === 'inventory' ? '{"type":"inventory","done":false,"entries":[' : '{"type":"update","entries":['
  const items: string[] = []
  for (const e of entries) {
    const j = entryJson(e, budget - head.length - 40)
    if (j !== undefined) items.push(j)
  }
  return pack(items, head, budget, kind === 'inventory')
}

export function encodeRemoveFrames (digests: Iterable<string>, budget: number): Uint8Array[] {
  const items = [...digests].map(d => JSON.stringify(d))
  if (items.length === 0) return []
  return pack(items, '{"type":"remove","digests":[', budget, false)
}

function pack (items: string[], head: string, budget: number, snapshot: boolean): Uint8Array[] {
  const frames: string[] = []
  let cur: string[] = []
  let len = head.length + 2
  for (const it of items) {
    if (cur.length > 0 && len + it.length + 1 > budget) {
      frames.push(head + cur.join(',') + ']}')
      cur = []
      len = head.length + 2
    }
    cur.push(it)
    len += it.length + 1
  }
  if (cur.length > 0 || (snapshot && frames.length === 0)) frames.push(head + cur.join(',') + ']}')
  if (snapshot) {
    const last = frames.length - 1
    frames[last] = frames[last].replace('"done":false', '"done":true')
  }
  return frames.map(f => encodeJsonFrame(f, budget + 64))
}
