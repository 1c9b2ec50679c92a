// Reads of a blob's file shared by every reader: the file is read in aligned chunks, and readers
// that want the same chunk at about the same time get the same Buffer (one read, no copy per
// reader), the next chunks read ahead while the current one is sent. A few recent chunks are kept;
// the rest is left to the page cache.
//
// Chunk buffers are recycled (ChunkPool): a fresh 1 MiB Buffer per chunk made V8 count every byte
// served as new external memory, and every 64 MB of it forced a full mark-compact of the heap —
// half of the CPU of an agent serving a blob. A buffer goes back to the pool only when its chunk
// left the cache and every reader that was handed a view of it released that view (`release`,
// once the bytes left the process: an HTTP write's callback). A view that is never released is
// simply never recycled; the garbage collector takes it.

import type { FileHandle } from 'node:fs/promises'
import { StoreIOError } from '../errors.js'

export const SHARED_CHUNK = 1024 * 1024
/** Chunks read ahead of a reader: file reads are thread-pool round trips, keep a few in flight. */
const AHEAD = 3
/** Chunks kept per blob: enough for readers a little apart, small enough for many blobs. */
const KEEP = 8

/**
 * Free chunk buffers, agent-wide. Bounded, and emptied when unused for a while: an idle agent
 * holds none.
 */
export class ChunkPool {
  private readonly free: Buffer[] = []
  private idleTimer?: NodeJS.Timeout

  constructor (readonly max = 8, private readonly idleMs = 10_000) {}

  /** Buffers allocated so far (not taken from the pool). */
  allocated = 0

  get size (): number { return this.free.length }

  take (): Buffer {
    const b = this.free.pop()
    if (b !== undefined) return b
    this.allocated++
    return Buffer.allocUnsafeSlow(SHARED_CHUNK)
  }

  put (buf: Buffer): void {
    if (this.free.length >= this.max) return
    this.free.push(buf)
    if (this.idleTimer === undefined) {
      this.idleTimer = setTimeout(() => { this.idleTimer = undefined; this.free.length = 0 }, this.idleMs)
      this.idleTimer.unref()
    } else this.idleTimer.refresh()
  }
}

export const chunkPool = new ChunkPool()

interface Chunk {
  /** The whole pooled buffer (the chunk's bytes are its first `len`). */
  base: Buffer
  loaded: Promise<Buffer>
  ok: boolean
  /** Views handed out and not yet released. */
  leases: number
  /** No longer in the cache: recycle once the last lease is released. */
  evicted: boolean
  /** Back in the pool (a late release must not put it there twice). */
  recycled: boolean
}

/** One view of a chunk handed to a reader; `release()` once its bytes were sent (at most once). */
export interface Lease { buf: Buffer, release: () => void }

export class SharedReads {
  private readonly chunks = new Map<number, Chunk>()

  constructor (private readonly file: () => Promise<FileHandle>, private readonly size: number, private readonly what: string, private readonly pool: ChunkPool = chunkPool) {}

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
    const chunk: Chunk = { base, loaded: undefined as unknown as Promise<Buffer>, ok: false, leases: 0, evicted: false, recycled: false }
    chunk.loaded = (async () => {
      const fh = await this.file()
      const buf = base.subarray(0, len)
      let done = 0
      while (done < len) {
        const { bytesRead } = await fh.read(buf, done, len - done, start + done)
        if (bytesRead === 0) throw new StoreIOError(`unexpected end of file for ${this.what} at ${start + done}`)
        done += bytesRead
      }
      chunk.ok = true
      this.maybeRecycle(chunk)
      return buf
    })()
    // A failed read is dropped from the cache (the next reader tries again); its buffer is not reused.
    chunk.loaded.catch(() => { if (this.chunks.get(i) === chunk) this.chunks.delete(i); chunk.evicted = true })
    this.chunks.set(i, chunk)
    while (this.chunks.size > KEEP) {
      const [k, old] = this.chunks.entries().next().value as [number, Chunk]
      this.chunks.delete(k)
      this.evict(old)
    }
    return chunk
  }

  private evict (c: Chunk): void {
    c.evicted = true
    this.maybeRecycle(c)
  }

  private maybeRecycle (c: Chunk): void {
    if (c.evicted && c.ok && c.leases === 0 && !c.recycled) {
      c.recycled = true
      this.pool.put(c.base)
    }
  }

  /**
   * Bytes [start, end) as leased views of shared chunks, reading ahead. Every lease should be
   * released once its bytes left the process; one that is not only costs its recycling.
   */
  async * leases (start: number, end: number): AsyncGenerator<Lease> {
    let pos = start
    while (pos < end) {
      const i = Math.floor(pos / SHARED_CHUNK)
      const current = this.chunk(i)
      // The lease is taken before waiting, so the chunk cannot be recycled under us meanwhile.
      current.leases++
      let released = false
      const release = (): void => {
        if (released) return
        released = true
        current.leases--
        this.maybeRecycle(current)
      }
      for (let k = i + 1; k <= i + AHEAD && k * SHARED_CHUNK < end; k++) void this.chunk(k).loaded.catch(() => {})
      let buf: Buffer
      try { buf = await current.loaded } catch (err) { release(); throw err }
      const from = pos - i * SHARED_CHUNK
      const to = Math.min(buf.length, end - i * SHARED_CHUNK)
      pos += to - from
      yield { buf: from === 0 && to === buf.length ? buf : buf.subarray(from, to), release }
    }
  }

  /** Bytes [start, end) as views of shared chunks (never released: their buffers are not recycled). */
  async * read (start: number, end: number): AsyncGenerator<Buffer> {
    for await (const l of this.leases(start, end)) yield l.buf
  }

  /** Forget the kept chunks (the blob was closed). */
  clear (): void {
    const all = [...this.chunks.values()]
    this.chunks.clear()
    for (const c of all) this.evict(c)
  }
}
