// Free buffers of one size, for reuse on the data path (see src/util/lent.ts): bounded, and
// emptied when unused for a while, so an idle agent holds none.

export const MiB = 1024 * 1024

export class ChunkPool {
  private readonly free: Buffer[] = []
  private idleTimer?: NodeJS.Timeout
  /** Buffers allocated so far (not taken from the pool). */
  allocated = 0

  /**
   * @param max - free buffers kept at most. @default 8
   * @param idleMs - all are dropped when none was put back for this long. @default 10 s
   * @param bytes - the size of every buffer. @default 1 MiB
   */
  constructor (readonly max = 8, private readonly idleMs = 10_000, readonly bytes = MiB) {}

  get size (): number { return this.free.length }

  /** A buffer of `bytes` with an ArrayBuffer of its own (transferable). */
  take (): Buffer {
    const b = this.free.pop()
    if (b !== undefined) return b
    this.allocated++
    return Buffer.allocUnsafeSlow(this.bytes)
  }

  put (buf: Buffer): void {
    if (this.free.length >= this.max || buf.length !== this.bytes) return
    this.free.push(buf)
    if (this.idleTimer === undefined) {
      this.idleTimer = setTimeout(() => { this.idleTimer = undefined; this.free.length = 0 }, this.idleMs)
      this.idleTimer.unref()
    } else this.idleTimer.refresh()
  }
}

/**
 * The agent-wide pool of 1 MiB buffers (upstream chunks in src/session/transfers.ts, reads of
 * partial blobs). Up to 32 free: kept to 8, a 1 GB cold pull allocated 20-36 of them (the rest
 * dropped as garbage when a batch came back at once, then allocated again), with 32 it
 * allocates 11-13; cold pull 3.5 -> 3.0 CPU s/GB in one pair of runs.
 */
export const chunkPool = new ChunkPool(32, 10_000, MiB)
