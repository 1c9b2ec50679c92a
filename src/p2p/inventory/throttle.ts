// Per-digest throttle for the updates we send: a blob being fetched changes its ranges many times
// a second, and every peer only needs the newest state now and then.

import type { InventoryChange, InventoryEntry } from '../types.js'

/**
 * The first update of a digest goes out at once, later ones at most every `intervalMs` (only the
 * newest is kept) — unless what it says about coordination changed (fetching, complete, the
 * ranges claimed from upstream): neighbours divide the upstream work by those, so they go out at
 * once too. Removes go out at once and cancel a pending update.
 */
export class ChangeThrottler {
  private readonly state = new Map<string, { until: number, pending?: InventoryEntry }>()
  /** The last state emitted per digest (kept after its throttle window: news is judged against it). */
  private readonly lastSent = new Map<string, InventoryEntry>()
  private timer?: NodeJS.Timeout

  /**
   * @param emit - `news`: the change says something new about coordination (a new blob, fetching
   * or complete changed, a new claim) or is a remove; false for progress only (ranges grew).
   */
  constructor (private readonly intervalMs: number, private readonly emit: (change: InventoryChange, news: boolean) => void) {}

  push (change: InventoryChange): void {
    if (change.type === 'remove') {
      this.state.delete(change.digest)
      this.lastSent.delete(change.digest)
      this.emit(change, true)
      return
    }
    const now = Date.now()
    const digest = change.entry.digest
    const s = this.state.get(digest)
    const last = this.lastSent.get(digest)
    const news = last === undefined || coordinationChanged(last, change.entry)
    if (this.intervalMs <= 0 || news || s === undefined || now >= s.until) {
      this.state.set(digest, { until: now + this.intervalMs })
      this.lastSent.set(digest, change.entry)
      this.emit(change, news)
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
        this.lastSent.set(digest, entry)
        this.emit({ type: 'update', entry }, false)
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
    this.lastSent.clear()
  }
}

/** A claim's start moves with every byte that arrives (progress); a new claim or a new end is news. */
function coordinationChanged (a: InventoryEntry, b: InventoryEntry): boolean {
  if (a.fetching !== b.fetching || a.complete !== b.complete) return true
  const x = a.claimed ?? []
  const y = b.claimed ?? []
  return x.length !== y.length || x.some((r, i) => r[1] !== y[i]?.[1])
}
