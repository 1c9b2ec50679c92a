import { mkdir, open, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import { DigestMismatchError, StoreIOError, errorMessage } from '../errors.js'
import type { Logger } from '../log.js'
import type { Metrics } from '../metrics/metrics.js'
import { RangeSet } from '../util/ranges.js'
import type { Hasher } from './hasher.js'
import { SharedReads } from './shared-reads.js'
import { chunkPool } from '../util/chunk-pool.js'
import { lend, letGo } from '../util/lent.js'
import { PIECE_SIZE, pieceBounds, pieceOf } from '../util/pieces.js'
import type { BlobIndex, BlobMeta, BlobOrigin, BlobState } from './index-db.js'

/** What an entry needs from its store (the store implements it; nothing else does). */
export interface EntryHost {
  readonly index: BlobIndex
  readonly hasher: Hasher
  readonly logger: Logger
  readonly metrics: Metrics
  readonly syncBytes: number
  readonly syncIntervalMs: number
  /** Test seam: the order of durable operations. */
  observe (op: 'write' | 'datasync' | 'index', digest: string, detail: RangeSet): void
  /** Map a file-system error to StoreFullError / StoreIOError. */
  ioError (err: unknown, what: string): Error
  /** Bytes were written (stats, listeners). */
  written (e: BlobEntry, bytes: number): void
  /** The blob verified and its completion is recorded. */
  completed (e: BlobEntry, partialBytes: number): void
  /** The blob failed verification: remove it. */
  discard (e: BlobEntry, err: DigestMismatchError): Promise<void>
}

const READ_CHUNK = 1024 * 1024
const ACCESS_PERSIST_MS = 60_000

/** A blob's state as callers see it (a snapshot: `present` is a copy). */
export interface BlobInfo {
  digest: string
  size: number
  state: BlobState
  /** Bytes readable now (written; for partial blobs possibly not yet checkpointed). */
  present: RangeSet
  mediaType?: string
  origin?: BlobOrigin
  credentialed: boolean
  pinned: boolean
  lastAccess: number
}

export function blobInfo (digest: string, meta: BlobMeta, present?: RangeSet): BlobInfo {
  return {
    digest,
    size: meta.size,
    state: meta.state,
    present: present?.clone() ?? new RangeSet(meta.ranges),
    mediaType: meta.mediaType,
    origin: meta.origin,
    credentialed: meta.credentialed,
    pinned: meta.pinned,
    lastAccess: meta.lastAccess
  }
}

/**
 * One open blob: its file, what is present, what is recorded, and the running hash.
 * Shared by every writer (sources) and reader (HTTP clients, peers) of the digest.
 */
export class BlobEntry {
  readonly present: RangeSet
  private fh?: FileHandle
  private fhOpening?: Promise<FileHandle>
  private readonly writing = new RangeSet()
  private dirtyBytes = 0
  private syncTimer?: NodeJS.Timeout
  private checkpointing?: Promise<void>
  /** The hash worker's job id for this entry, once hashing started. */
  private hashJob?: number
  private waiters: Array<() => void> = []
  private shared?: SharedReads
  /**
   * Pieces whose sha256 is known because their bytes were checked against it on arrival and
   * written here as they were: the hash worker does not hash them again.
   */
  private readonly knownPieces = new Map<number, Uint8Array>()
  refs = 0
  /** Set when verification failed: the entry is dead, readers must stop. */
  failed?: Error
  /** Being discarded: writes and checkpoints stop before `failed` is published. */
  dead = false
  /** Remove the blob once the last reader lets go (set when it cannot be stored, e.g. disk full). */
  dropWhenIdle?: string
  /** Settles when the blob is verified complete (or fails verification). */
  readonly completion: Promise<void>
  private resolveCompletion!: () => void
  private rejectCompletion!: (err: Error) => void

  constructor (private readonly store: EntryHost, readonly digest: string, readonly path: string, public meta: BlobMeta) {
    this.present = new RangeSet(meta.ranges)
    this.completion = new Promise((resolve, reject) => { this.resolveCompletion = resolve; this.rejectCompletion = reject })
    this.completion.catch(() => {}) // observed through `failed` too; never an unhandled rejection
    if (meta.state === 'complete') this.resolveCompletion()
  }

  get size (): number { return this.meta.size }
  get complete (): boolean { return this.meta.state === 'complete' }

  info (): BlobInfo { return blobInfo(this.digest, this.meta, this.present) }

  /** Resolves at the next change (bytes written, completion, failure). */
  changed (): Promise<void> {
    return new Promise(resolve => this.waiters.push(resolve))
  }

  private wake (): void {
    const w = this.waiters
    this.waiters = []
    for (const fn of w) fn()
  }

  private async file (): Promise<FileHandle> {
    if (this.fh !== undefined) return this.fh
    this.fhOpening ??= (async () => {
      await mkdir(join(this.path, '..'), { recursive: true })
      // 'a+' would ignore positions on Linux: open read-write, creating the file if needed.
      let fh: FileHandle
      try { fh = await open(this.path, 'r+') } catch (err: any) {
        if (err?.code !== 'ENOENT') throw err
        fh = await open(this.path, 'w+')
      }
      this.fh = fh
      return fh
    })()
    return await this.fhOpening
  }

  /**
   * Write bytes at `offset` (one buffer, or several that follow each other). Bytes already
   * present (or being written by another source) are skipped, never overwritten, so a late or
   * bad duplicate cannot corrupt data already there. Returns the number of new bytes written.
   * `checked`: the piece hashes these bytes were verified against (peer pieces); the pieces
   * they cover whole, when all of it was written, need no hashing again.
   */
  async write (offset: number, data: Uint8Array | readonly Uint8Array[], checked?: readonly Uint8Array[]): Promise<number> {
    if (this.failed !== undefined) throw this.failed
    if (this.complete || this.dead) return 0
    const bufs: readonly Uint8Array[] = data instanceof Uint8Array ? [data] : data
    const length = bufs.reduce((n, b) => n + b.length, 0)
    const end = Math.min(offset + length, this.size)
    if (offset < 0 || offset >= end) return 0
    const todo = this.present.union(this.writing).missing(offset, end)
    if (todo.isEmpty) return 0
    for (const [s, e] of todo) this.writing.add(s, e)
    let written = 0
    try {
      const fh = await this.file()
      if (todo.count === 1 && todo.covers(offset, offset + length)) {
        // The common case: all of it is new. One writev, no copy into one buffer.
        await writevAll(fh, bufs, offset)
        written = length
        if (checked !== undefined) this.noteKnownPieces(offset, offset + length, checked)
      } else {
        const buf = bufs.length === 1 ? bufs[0] as Uint8Array : Buffer.concat(bufs as Uint8Array[], length)
        for (const [s, e] of todo) {
          const part = buf.subarray(s - offset, e - offset)
          let done = 0
          while (done < part.length) {
            const { bytesWritten } = await fh.write(part, done, part.length - done, s + done)
            done += bytesWritten
          }
          written += part.length
        }
      }
    } catch (err: any) {
      for (const [s, e] of todo) this.writing.remove(s, e)
      throw this.store.ioError(err, `writing ${this.digest}`)
    }
    for (const [s, e] of todo) { this.writing.remove(s, e); this.present.add(s, e) }
    this.store.observe('write', this.digest, todo)
    this.dirtyBytes += written
    if (offset <= this.present.contiguousEnd(0)) this.startHashing()
    this.scheduleCheckpoint()
    this.store.written(this, written)
    this.wake()
    return written
  }

  /**
   * Bytes [start, end) that were checked against `hashes` are on disk as they arrived (not one
   * byte of them was already there from another source): the pieces they cover whole have
   * those hashes. Told to the hash worker before the bytes are reported available.
   */
  private noteKnownPieces (start: number, end: number, hashes: readonly Uint8Array[]): void {
    for (let i = pieceOf(start + PIECE_SIZE - 1); i <= pieceOf(end - 1); i++) {
      const [s, e] = pieceBounds(i, this.size)
      const h = hashes[i]
      if (s < start || e > end || h === undefined) continue
      this.knownPieces.set(i, h)
      if (this.hashJob !== undefined) this.store.hasher.known(this.hashJob, i, h)
    }
  }

  /**
   * The hash worker reads the file in order as the contiguous prefix grows, so the hash is
   * always of what is on disk, whatever order the bytes arrived in.
   */
  startHashing (): void {
    if (this.hashJob === undefined) {
      // Piece hashes in the same pass: peers ask for them, and the main thread never reads the
      // file again to compute them.
      const job = this.store.hasher.open(this.path, this.size, PIECE_SIZE, this.knownPieces)
      this.hashJob = job.id
      job.digest.then((r) => { void this.finish(r.digest, r.pieces) }, (err) => {
        if (this.failed === undefined && !this.dead) this.store.logger.error({ digest: this.digest, err: errorMessage(err) }, 'hashing failed')
      })
    }
    this.store.hasher.avail(this.hashJob, this.present.contiguousEnd(0))
  }

  /** Stop hashing (entry closed before completion); a later reopen hashes from the start. */
  private stopHashing (): void {
    if (this.hashJob !== undefined) this.store.hasher.close(this.hashJob)
    this.hashJob = undefined
  }

  private finishing = false
  private async finish (actual: string, pieces?: Buffer[]): Promise<void> {
    if (this.finishing || this.complete || this.failed !== undefined || this.dead) return
    this.finishing = true
    this.hashJob = undefined
    if (actual !== this.digest) {
      const err = new DigestMismatchError(`sha256 of the received bytes (${actual}) does not match ${this.digest}; discarded`, this.digest, actual)
      await this.store.discard(this, err)
      return
    }
    const partialBytes = this.present.bytes
    try {
      await this.checkpoint()
      const fh = await this.file()
      await fh.datasync()
      this.meta = { ...this.meta, state: 'complete', ranges: [[0, this.size]] }
      this.store.observe('index', this.digest, RangeSet.full(this.size))
      // Pieces first: a complete record always finds its piece hashes next to it.
      if (pieces !== undefined) await this.store.index.putPieces(this.digest, pieces)
      await this.store.index.putBlob(this.digest, this.meta)
    } catch (err) {
      this.finishing = false
      this.store.logger.error({ digest: this.digest, err: errorMessage(err) }, 'could not record completion')
      return
    }
    this.store.metrics.blobsCompleted.inc()
    this.store.logger.info({ digest: this.digest, size: this.size }, 'blob verified and complete')
    this.resolveCompletion()
    this.store.completed(this, partialBytes)
    this.wake()
  }

  private scheduleCheckpoint (): void {
    if (this.dirtyBytes >= this.store.syncBytes) { void this.checkpoint(); return }
    if (this.syncTimer === undefined) {
      this.syncTimer = setTimeout(() => { this.syncTimer = undefined; void this.checkpoint() }, this.store.syncIntervalMs)
      this.syncTimer.unref()
    }
  }

  /**
   * Make written bytes durable, then record them: fdatasync first, index second. A kill -9 at
   * any point leaves the index naming only bytes that are on disk.
   */
  async checkpoint (): Promise<void> {
    while (this.checkpointing !== undefined) await this.checkpointing
    if (this.dirtyBytes === 0 || this.fh === undefined || this.dead) return
    if (this.syncTimer !== undefined) { clearTimeout(this.syncTimer); this.syncTimer = undefined }
    const run = (async () => {
      const snapshot = this.present.clone()
      this.dirtyBytes = 0
      try {
        await this.fh!.datasync()
        this.store.observe('datasync', this.digest, snapshot)
        if (this.complete || this.dead) return
        this.meta = { ...this.meta, ranges: snapshot.toArray() }
        this.store.observe('index', this.digest, snapshot)
        await this.store.index.putBlob(this.digest, this.meta)
      } catch (err) {
        this.store.logger.error({ digest: this.digest, err: errorMessage(err) }, 'checkpoint failed')
      }
    })()
    this.checkpointing = run
    try { await run } finally { this.checkpointing = undefined }
  }

  /**
   * Read present bytes [start, end) in chunks; throws if a byte is not present. Chunks of the
   * agent's pool size (the default) are pooled buffers lent to the caller (src/util/lent.ts):
   * `letGo` each once its bytes left the process and the buffer is reused; a chunk never let go
   * is only never recycled. (A client that lags behind its fetch session reads the rest this
   * way: a fresh 1 MiB buffer per chunk piled up as garbage in the main thread's heap.)
   */
  async * read (start: number, end: number, chunk = READ_CHUNK): AsyncGenerator<Buffer> {
    if (!this.present.covers(start, end)) throw new StoreIOError(`bytes ${start}-${end} of ${this.digest} are not present`)
    const fh = await this.file()
    let pos = start
    while (pos < end) {
      const len = Math.min(chunk, end - pos)
      const pooled = chunk === chunkPool.bytes
      const buf = pooled ? chunkPool.take() : Buffer.allocUnsafe(len)
      // The lender's reference goes to the caller with the chunk (or back at once on failure).
      if (pooled) lend(buf.buffer, () => { chunkPool.put(buf) })
      let bytesRead: number
      try {
        ({ bytesRead } = await fh.read(buf, 0, len, pos))
        if (bytesRead === 0) throw new StoreIOError(`unexpected end of file for ${this.digest} at ${pos}`)
      } catch (err) { letGo(buf); throw err }
      pos += bytesRead
      yield bytesRead === buf.length ? buf : buf.subarray(0, bytesRead)
    }
  }

  /**
   * Bytes [start, end) of a complete blob through reads shared with every other reader of it
   * (src/store/shared-reads.ts): concurrent readers of one blob read the file once. Each chunk
   * carries a hold (src/util/lent.ts): let go of it once sent, and its buffer is reused.
   */
  readShared (start: number, end: number): AsyncGenerator<Buffer> {
    if (!this.complete) throw new StoreIOError(`${this.digest} is not complete`)
    this.shared ??= new SharedReads(async () => await this.file(), this.size, this.digest)
    return this.shared.read(start, end)
  }

  touch (): void {
    const now = Date.now()
    if (now - this.meta.lastAccess < ACCESS_PERSIST_MS) return
    this.meta = { ...this.meta, lastAccess: now }
    // Access times are advisory (GC order): no fsync ordering needed.
    this.store.index.putBlob(this.digest, this.meta).catch(() => {})
  }

  fail (err: Error): void {
    this.dead = true
    this.failed = err
    this.rejectCompletion(err)
    this.wake()
  }

  async closeFile (): Promise<void> {
    this.shared?.clear()
    this.shared = undefined
    if (this.syncTimer !== undefined) { clearTimeout(this.syncTimer); this.syncTimer = undefined }
    this.stopHashing()
    await this.checkpoint()
    const fh = this.fh
    this.fh = undefined
    this.fhOpening = undefined
    await fh?.close().catch(() => {})
  }
}

/** writev until every byte is written (the kernel may write less than asked). */
async function writevAll (fh: FileHandle, bufs: readonly Uint8Array[], position: number): Promise<void> {
  let rest = [...bufs]
  let pos = position
  while (rest.length > 0) {
    const { bytesWritten } = await fh.writev(rest, pos)
    pos += bytesWritten
    let n = bytesWritten
    while (rest.length > 0 && n >= (rest[0] as Uint8Array).length) { n -= (rest[0] as Uint8Array).length; rest.shift() }
    if (n > 0) rest = [(rest[0] as Uint8Array).subarray(n), ...rest.slice(1)]
  }
}
