// The readers of one fetch session: local clients streaming a byte range of the blob. Bytes a
// transfer receives are handed to every reader that wants exactly them next (from memory, no
// write-then-read round trip); a reader that falls behind reads from the file instead.

import type { BlobContext } from './transfers.js'
import { hold as holdLent, letGo } from '../util/lent.js'

/**
 * One reader, with the registry and repository of its request. `queue` holds bytes handed over
 * from memory as a transfer received them (they follow `pos` exactly).
 */
export interface Reader { pos: number, end: number, ctx: BlobContext, queue: Uint8Array[], queued: number }

/**
 * Bytes a reader may hold from memory before it is left to catch up from the file: two peer
 * pieces. With one, a piece that arrived while the reader still wrote the previous one to its
 * client (a 4 MiB socket write takes a few event-loop turns) went to the file, and a fast
 * client read about half of a blob back from it (14–26 times per 315 MB from a neighbour).
 */
export const READER_QUEUE_BYTES = 8 * 1024 * 1024

export class Readers {
  private readonly set = new Set<Reader>()

  get size (): number { return this.set.size }

  add (ctx: BlobContext, start: number, end: number): Reader {
    const r: Reader = { pos: start, end, ctx, queue: [], queued: 0 }
    this.set.add(r)
    return r
  }

  /** The reader is gone: bytes still queued for it will not be sent. */
  delete (r: Reader): void {
    this.set.delete(r)
    for (const c of r.queue) letGo(c)
    r.queue = []
    r.queued = 0
  }

  list (): Reader[] { return [...this.set] }

  /**
   * Bytes received at `offset`: queue them for each reader whose next byte that is and that keeps
   * up. Nothing at or beyond `hold` goes to a reader of the blob's end (`size`): the tail waits
   * for the verdict on the whole blob. True when a reader has half its queue or more: wake it
   * now, before more arrives than it may queue (the rest would be read back from the file).
   */
  offer (offset: number, chunk: Uint8Array, size: number, hold: number): boolean {
    let plenty = false
    for (const r of this.set) {
      if (r.pos + r.queued !== offset || r.queued >= READER_QUEUE_BYTES) continue
      const limit = r.end === size ? Math.min(r.end, hold) : r.end
      const take = Math.min(chunk.length, limit - offset)
      if (take <= 0) continue
      const view = take === chunk.length ? chunk : chunk.subarray(0, take)
      holdLent(view) // lent bytes (src/util/lent.ts): whoever sends the drained chunk lets go
      r.queue.push(view)
      r.queued += take
      if (r.queued >= READER_QUEUE_BYTES / 2) plenty = true
    }
    return plenty
  }
}

/**
 * Everything queued for `r`, as Buffers without a copy (the caller writes them in one go, and
 * lets go of each once written: `letGo` in src/util/lent.ts).
 */
export function drain (r: Reader): Buffer[] {
  const chunks = r.queue.map(c => Buffer.isBuffer(c) ? c : Buffer.from(c.buffer, c.byteOffset, c.byteLength))
  r.queue = []
  r.pos += r.queued
  r.queued = 0
  return chunks
}
