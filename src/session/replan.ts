/**
 * A fetch session's one pending "plan again" timer: scheduling sooner replaces it, scheduling
 * later keeps it. Not unref'd: a session waiting on a neighbour is work in progress (the
 * session clears it when it ends).
 */
export class ReplanTimer {
  private timer?: NodeJS.Timeout
  private at = 0

  constructor (private readonly fire: () => void) {}

  /** Plan again in `ms`, or at the time already set if that is sooner. */
  schedule (ms: number): void {
    const at = Date.now() + ms
    if (this.timer !== undefined) {
      if (this.at <= at) return
      clearTimeout(this.timer)
    }
    this.at = at
    this.timer = setTimeout(() => { this.timer = undefined; this.fire() }, ms)
  }

  clear (): void {
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = undefined
  }
}
