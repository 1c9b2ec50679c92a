import type { BlobEntry } from '../store/blob-store.js'
import { hold, letGo } from '../util/lent.js'

/**
 * Sequential writes of a transfer's bytes at increasing offsets, without making the network wait
 * for the disk: chunks queue while a write is in flight and go out together as one writev (fewer
 * syscalls, fewer thread-pool round trips, no copy), and the network is held back only above
 * `maxQueued`.
 */
export class WriteBehind {
  private queue: Uint8Array[] = []
  private queued = 0
  private writing?: Promise<void>
  private error?: unknown
  private space?: () => void

  constructor (
    private readonly entry: BlobEntry,
    /** Offset of the next byte to write. */
    public pos: number,
    private readonly onWritten: (bytes: number) => void,
    private readonly maxQueued = 4 * 1024 * 1024,
    /** The piece hashes every byte pushed was checked against (a checked peer transfer). */
    private readonly checked?: readonly Uint8Array[]
  ) {}

  /** Queue a chunk; resolves once there is room for more (throws a write error). */
  async push (chunk: Uint8Array): Promise<void> {
    if (this.error !== undefined) throw this.error
    hold(chunk) // lent bytes (src/util/lent.ts) stay ours until written
    this.queue.push(chunk)
    this.queued += chunk.length
    this.writing ??= this.drain()
    if (this.queued > this.maxQueued) {
      await new Promise<void>(resolve => { this.space = resolve })
      if (this.error !== undefined) throw this.error
    }
  }

  /** Wait until everything queued is written (throws a write error). */
  async flush (): Promise<void> {
    while (this.writing !== undefined) await this.writing
    if (this.error !== undefined) throw this.error
  }

  private async drain (): Promise<void> {
    try {
      while (this.queue.length > 0 && this.error === undefined) {
        const parts = this.queue
        this.queue = []
        const length = parts.reduce((n, b) => n + b.length, 0)
        this.queued -= length
        this.releaseSpace()
        // One writev for everything that queued up: fewer syscalls, no copy into one buffer.
        try {
          await this.entry.write(this.pos, parts, this.checked)
        } finally { for (const p of parts) letGo(p) }
        this.pos += length
        this.onWritten(length)
      }
    } catch (err) {
      this.error = err
      for (const p of this.queue) letGo(p)
      this.queue = []
      this.queued = 0
    } finally {
      this.writing = undefined
      this.releaseSpace(true)
    }
  }

  private releaseSpace (force = false): void {
    if (this.space !== undefined && (force || this.queued <= this.maxQueued)) {
      const fn = this.space
      this.space = undefined
      fn()
    }
  }
}
