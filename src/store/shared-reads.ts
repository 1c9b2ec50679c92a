// Reads of a blob's file shared by every reader: the file is read in aligned chunks, and readers
// that want the same chunk at about the same time get the same Buffer (one read, no copy per
// reader), the next chunks read ahead while the current one is sent. A few recent chunks are kept;
// the rest is left to the page cache.
//
// Chunk buffers are recycled (ChunkPool): a fresh Buffer per chunk made V8 count every byte
// served as new external memory, and every 64 MB of it forced a full mark-compact of the heap —
// half of the CPU of an agent serving a blob. Each buffer is lent (src/util/lent.ts): the cache
// holds it while the chunk is kept, every view handed to a reader holds it until the reader lets
// go (once the bytes left the process: an HTTP write's callback), and it goes back to the pool
// when the last one let go. A view never let go is simply never recycled.

import type { FileHandle } from 'node:fs/promises'
import { StoreIOError } from '../errors.js'
import { ChunkPool } from '../util/chunk-pool.js'
import { hold, lend, letGo } from '../util/lent.js'

/**
 * Each reader away from the others holds about three chunks (in its socket, current, read
 * ahead), so memory grows with readers by three chunks each: 8 clients of one blob peaked at
 * 156-167 MB with 1 MiB chunks, 129-132 MB with these, at the same throughput (bench figs 1, 3).
 */
export const SHARED_CHUNK = 512 * 1024
/** Chunks read ahead of a reader: file reads are thread-pool round trips, keep a couple in flight. */
const AHEAD = 2
/**
 * Chunks kept per blob: the read-ahead and one behind, for readers a little apart; the rest is
 * left to the page cache (a reread costs a copy). An agent serving many blobs at once keeps this
 * many of each (KEEP x SHARED_CHUNK a blob). A bound, not a measured win (bench fig. 12 did not
 * move).
 */
const KEEP = 4

/**
 * The agent-wide pool of shared file chunks. It keeps as many as were out at once, up to 32 MiB,
 * and none once idle 10 s: kept to 16, an agent serving 4 peers dropped and reallocated 70 of
 * them in 5 s, each garbage until the next full GC (peak RSS 164 MB; with 64, 146 MB).
 */
export const filePool = new ChunkPool(64, 10_000, SHARED_CHUNK)

interface Chunk {
  /** The whole pooled buffer (the chunk's bytes are its first `len`), lent (src/util/lent.ts): the cache holds it while the chunk is kept. */
  base: Buffer
  loaded: Promise<Buffer>
}

export class SharedReads {
  private readonly chunks = new Map<number, Chunk>()

  constructor (private readonly file: () => Promise<FileHandle>, private readonly size: number, private readonly what: string, private readonly pool: ChunkPool = filePool) {}

  private chunk (i: number): Chunk {
    let c = this.chunks.get(i)
    if (c !== undefined) {
      // Most recently used last.
      this.chunks.delete(i)
      this.chunks.set(i, c)
      return c
    }
    const start = i * SHARED_CHUNK
    const len = Math.min(SHARED_CHUNK, this.size - start)
    const base = this.pool.take()
    lend(base.buffer, () => { this.pool.put(base) }) // the cache's hold
    hold(base) // the read's, until it settled
    const loaded = (async () => {
      try {
        const fh = await this.file()
        const buf = base.subarray(0, len)
        let done = 0
        while (done < len) {
          const { bytesRead } = await fh.read(buf, done, len - done, start + done)
          if (bytesRead === 0) throw new StoreIOError(`unexpected end of file for ${this.what} at ${start + done}`)
          done += bytesRead
        }
        return buf
      } finally { letGo(base) }
    })()
    const chunk: Chunk = { base, loaded }
    // A failed read is dropped from the cache (the next reader tries again).
    loaded.catch(() => { if (this.chunks.get(i) === chunk) { this.chunks.delete(i); letGo(base) } })
    this.chunks.set(i, chunk)
    while (this.chunks.size > KEEP) {
      const [k, old] = this.chunks.entries().next().value as [number, Chunk]
      this.chunks.delete(k)
      letGo(old.base)
    }
    return chunk
  }

  /**
   * Bytes [start, end) as views of shared chunks, reading ahead. Each view carries a hold on its
   * chunk's buffer (src/util/lent.ts): let go of it once its bytes left the process, and the
   * buffer is reused; a view never let go only costs that.
   */
  async * read (start: number, end: number): AsyncGenerator<Buffer> {
    let pos = start
    while (pos < end) {
      const i = Math.floor(pos / SHARED_CHUNK)
      const current = this.chunk(i)
      // Held before waiting, so the chunk cannot be recycled under us meanwhile.
      hold(current.base)
      for (let k = i + 1; k <= i + AHEAD && k * SHARED_CHUNK < end; k++) void this.chunk(k).loaded.catch(() => {})
      let buf: Buffer
      try { buf = await current.loaded } catch (err) { letGo(current.base); throw err }
      const from = pos - i * SHARED_CHUNK
      const to = Math.min(buf.length, end - i * SHARED_CHUNK)
      pos += to - from
      yield from === 0 && to === buf.length ? buf : buf.subarray(from, to)
    }
  }

  /** Forget the kept chunks (the blob was closed). */
  clear (): void {
    const all = [...this.chunks.values()]
    this.chunks.clear()
    for (const c of all) letGo(c.base)
  }
}
