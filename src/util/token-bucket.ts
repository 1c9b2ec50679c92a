// A token bucket shared by everything it caps (today: all uploads to peers): `take(n)` spends n
// tokens (bytes) and waits while the bucket is in debt. Capacity is a quarter second of rate (at
// least 64 KiB) so bursts stay short.

import { sleep } from './sleep.js'

export class TokenBucket {
  private tokens: number
  private last = Date.now()
  readonly capacity: number

  /** `bytesPerSecond` 0 (or less) means unlimited. */
  constructor (readonly bytesPerSecond: number) {
    this.capacity = Math.max(64 * 1024, Math.floor(bytesPerSecond / 4))
    this.tokens = this.capacity
  }

  get unlimited (): boolean { return this.bytesPerSecond <= 0 }

  private refill (): void {
    const now = Date.now()
    this.tokens = Math.min(this.capacity, this.tokens + (now - this.last) * this.bytesPerSecond / 1000)
    this.last = now
  }

  async take (n: number, signal?: AbortSignal): Promise<void> {
    if (this.unlimited) return
    this.refill()
    this.tokens -= n
    while (this.tokens < 0) {
      const ms = Math.max(5, Math.ceil(-this.tokens * 1000 / this.bytesPerSecond))
      await sleep(ms, signal)
      this.refill()
    }
  }
}
