// Inventory frames under a byte budget: the snapshot (`inventory`, last frame `done: true`),
// `update` and `remove` frames, each body at most `budget` bytes so no peer rejects a frame.

import { encodeJsonFrame } from '../frames.js'
import type { InventoryEntry } from '../types.js'

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

/** Who our DHT could name (inventory 1.1): peer ids, or null for "many". At most MAX_HORIZON ids: a few KiB. */
export function encodeHorizonFrame (peers: string[] | null): Uint8Array {
  return encodeJsonFrame(JSON.stringify({ type: 'horizon', peers }), 16 * 1024)
}

/** A change of the horizon last told on this stream (inventory 1.2). */
export function encodeHorizonDelta (add: string[], remove: string[]): Uint8Array {
  return encodeJsonFrame(JSON.stringify({ type: 'horizon', add, remove }), 16 * 1024)
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
