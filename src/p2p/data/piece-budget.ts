// The data worker's budget of piece buffers: bytes out of its hands at once — being filled, on
// their way to the main thread, or held there by the readers and the write-behind until the
// last one lets go (src/util/lent.ts). Without it, each of the agent's peer transfers (up to
// fetch.maxPeerTransfersTotal) kept its own pieces in flight, about five 4 MiB pieces each: with
// eight of twenty agents pulling at once (bench fig. 12) the largest agent peaked near 250 MB.
//
// The budget is soft: a transfer that finds no room waits until a buffer comes back, or at most
// `maxWaitMs` — consumers may hold pieces for as long as their client takes (a stalled client
// holds two), and that must not stop every other transfer.

import { ChunkPool } from '../../util/chunk-pool.js'

export class PieceBudget {
  private out = 0
  private readonly waiting: Array<{ wake: () => void, timer: NodeJS.Timeout }> = []
  /**
   * The budget never goes below this: one piece being filled per running transfer and one more.
   * Three neighbours capped at 8 MiB/s each fill three pieces at once; a budget of three made
   * each wait for the one before to be written after every piece, and the pauses cost their
   * rate (bench fig. 9: 3.0x -> 2.6x one cap).
   */
  floor = 0

  /**
   * @param limit - bytes out at once (a transfer that asks beyond it waits)
   * @param maxWaitMs - the longest wait for room
   * @param pool - spare buffers by size (buffers that came back, for the next piece)
   */
  constructor (readonly limit: number, private readonly maxWaitMs: number, private readonly pool: (len: number) => ChunkPool | undefined) {}

  /** Bytes out now. */
  get outstanding (): number { return this.out }

  /** Whether `len` more bytes fit (one buffer always fits when none is out). */
  room (len: number): boolean { return this.out === 0 || this.out + len <= Math.max(this.limit, this.floor) }

  /** A buffer of `len` bytes, counted as out; undefined when there is no room (unless `force`). */
  take (len: number, force = false): Uint8Array | undefined {
    if (!force && !this.room(len)) return undefined
    this.out += len
    return this.pool(len)?.take() ?? Buffer.allocUnsafeSlow(len)
  }

  /** A buffer made from taken bytes (a copy of part of a piece), out as well. */
  adopt (len: number): void { this.out += len }

  /** A buffer that was out came back (or was let go of): its bytes are free again. */
  back (ab: ArrayBufferLike): void {
    this.out = Math.max(0, this.out - ab.byteLength)
    this.pool(ab.byteLength)?.put(Buffer.from(ab))
    while (this.waiting.length > 0 && this.out < Math.max(this.limit, this.floor)) {
      const w = this.waiting.shift()!
      clearTimeout(w.timer)
      w.wake()
    }
  }

  /** Settles once `len` bytes fit, after maxWaitMs at the latest, or when `signal` aborts. */
  async roomFor (len: number, signal: AbortSignal): Promise<void> {
    if (this.room(len) || signal.aborted) return
    await new Promise<void>(resolve => {
      const gaveUp = (): void => { stop(); resolve() }
      const stop = this.wait(() => { signal.removeEventListener('abort', gaveUp); resolve() })
      signal.addEventListener('abort', gaveUp, { once: true })
    })
  }

  /** Call `wake` once there is room, or after maxWaitMs at the latest; returns a cancel. */
  wait (wake: () => void): () => void {
    const entry = {
      wake,
      timer: setTimeout(() => {
        const i = this.waiting.indexOf(entry)
        if (i >= 0) this.waiting.splice(i, 1)
        wake()
      }, this.maxWaitMs)
    }
    this.waiting.push(entry)
    return () => {
      const i = this.waiting.indexOf(entry)
      if (i >= 0) { this.waiting.splice(i, 1); clearTimeout(entry.timer) }
    }
  }
}
