// Per-digest throttle for the updates we send: a blob being fetched changes its ranges many times
// a second, and every peer only needs the newest state now and then.

import type { InventoryChange, InventoryEntry } from '../types.js'

export interface ThrottleOptions {
  /** Progress counts in whole pieces of this size (0: every byte counts). @default 0 */
  pieceSize?: number
  /** Progress that completes no new whole piece goes out at most this often. @default intervalMs */
  slowMs?: number
}

/**
 * The first update of a digest goes out at once, later ones at most every `intervalMs` (only the
 * newest is kept) — unless what it says about coordination changed (fetching, complete, the
 * ranges claimed from upstream): neighbours divide the upstream work by those, so they go out at
 * once too. Progress inside a piece waits up to `slowMs`: peers take whole pieces (they check
 * each against its sha256), so a piece done is worth telling soon and a piece half done is not.
 * Removes go out at once and cancel a pending update.
 */
export class ChangeThrottler {
  private readonly state = new Map<string, { sentAt: number, until: number, pending?: InventoryEntry }>()
  /** The last state emitted per digest (kept after its throttle window: news is judged against it). */
  private readonly lastSent = new Map<string, InventoryEntry>()
  private timer?: NodeJS.Timeout
  private timerAt = 0

  private readonly pieceSize: number
  private readonly slowMs: number

  /**
   * @param emit - `news`: the change says something new about coordination (a new blob, fetching
   * or complete changed, a new claim) or is a remove; false for progress only (ranges grew).
   */
  constructor (private readonly intervalMs: number, private readonly emit: (change: InventoryChange, news: boolean) => void, opts: ThrottleOptions = {}) {
    this.pieceSize = opts.pieceSize ?? 0
    this.slowMs = Math.max(intervalMs, opts.slowMs ?? intervalMs)
  }

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
    const window = last === undefined || this.piecesDone(change.entry) > this.piecesDone(last) ? this.intervalMs : this.slowMs
    if (this.intervalMs <= 0 || news || s === undefined || now >= s.sentAt + window) {
      this.state.set(digest, { sentAt: now, until: now + this.intervalMs })
      this.lastSent.set(digest, change.entry)
      this.emit(change, news)
      this.schedule()
      return
    }
    s.pending = change.entry
    // A piece done since the last send brings the send forward; progress inside one does not.
    s.until = s.sentAt + window
    this.rescheduleBefore(s.until)
  }

  /** Whole pieces the entry holds (a blob's short last piece counts when held to the end). */
  private piecesDone (e: InventoryEntry): number {
    if (this.pieceSize <= 0) return e.ranges.reduce((n, [a, b]) => n + (b - a), 0)
    const p = this.pieceSize
    let n = 0
    for (const [a, b] of e.ranges) {
      const end = b === e.size ? Math.ceil(b / p) : Math.floor(b / p)
      n += Math.max(0, end - Math.ceil(a / p))
    }
    return n
  }

  /** The timer is set for later than `at` (a pending send was brought forward): set it again. */
  private rescheduleBefore (at: number): void {
    if (this.timer !== undefined && this.timerAt > at) { clearTimeout(this.timer); this.timer = undefined }
    this.schedule()
  }

  private schedule (): void {
    if (this.timer !== undefined || this.state.size === 0) return
    let next = Infinity
    for (const s of this.state.values()) next = Math.min(next, s.until)
    this.timerAt = next
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
        s.sentAt = now
        s.until = now + this.intervalMs
        this.lastSent.set(digest, entry)
        this.emit({ type: 'update', entry }, false)
      } else if (now >= s.sentAt + this.slowMs) {
        this.state.delete(digest)
      } else {
        // Kept until the slow window ends: progress inside a piece must not go out at once.
        s.until = s.sentAt + this.slowMs
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
