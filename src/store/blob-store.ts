import { createHash } from 'node:crypto'
import { EventEmitter } from 'node:events'
import { createReadStream, type ReadStream } from 'node:fs'
import { mkdir, open, readdir, rm, stat, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import { DigestMismatchError, StoreFullError, StoreIOError, errorMessage } from '../errors.js'
import type { Logger } from '../log.js'
import type { Metrics } from '../metrics/metrics.js'
import { PIECE_SIZE } from '../p2p/types.js'
import { BlobIndex, type BlobMeta, type BlobOrigin, type BlobState, type TagMeta } from './index-db.js'
import { Hasher } from './hasher.js'
import { RangeSet } from '../util/ranges.js'

export type { BlobMeta, BlobOrigin, BlobState, TagMeta }

export interface BlobStoreInit {
  /** Root of the store: `blobs/sha256/<hex>` data files and the `index/` LevelDB. */
  dataDir: string
  logger: Logger
  metrics: Metrics
  /** Checkpoint (fdatasync, then record ranges in the index) after this many new bytes. Default 4 MiB (one piece). */
  syncBytes?: number
  /** ...or after this long with unsynced bytes. Default 1000 ms. */
  syncIntervalMs?: number
  /** Test seam: observe the order of durable operations (the crash-consistency contract). */
  onDurableOp?: (op: 'write' | 'datasync' | 'index', digest: string, detail: RangeSet) => void
}

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

export interface OpenOptions {
  size: number
  mediaType?: string
  origin?: BlobOrigin
  credentialed?: boolean
}

export type StoreEvent =
  | { type: 'update', info: BlobInfo }
  | { type: 'complete', info: BlobInfo }
  | { type: 'remove', digest: string }

const READ_CHUNK = 1024 * 1024
const ACCESS_PERSIST_MS = 60_000

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

  constructor (readonly store: BlobStore, readonly digest: string, readonly path: string, public meta: BlobMeta) {
    this.present = new RangeSet(meta.ranges)
    this.completion = new Promise((resolve, reject) => { this.resolveCompletion = resolve; this.rejectCompletion = reject })
    this.completion.catch(() => {}) // observed through `failed` too; never an unhandled rejection
    if (meta.state === 'complete') this.resolveCompletion()
  }

  get size (): number { return this.meta.size }
  get complete (): boolean { return this.meta.state === 'complete' }

  info (): BlobInfo { return this.store.toInfo(this.digest, this.meta, this.present) }

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
   * Write bytes at `offset`. Bytes already present (or being written by another source) are
   * skipped, never overwritten, so a late or bad duplicate cannot corrupt data already there.
   * Returns the number of new bytes written.
   */
  async write (offset: number, buf: Uint8Array): Promise<number> {
    if (this.failed !== undefined) throw this.failed
    if (this.complete || this.dead) return 0
    const end = Math.min(offset + buf.length, this.size)
    if (offset < 0 || offset >= end) return 0
    const todo = this.present.union(this.writing).missing(offset, end)
    if (todo.isEmpty) return 0
    for (const [s, e] of todo) this.writing.add(s, e)
    let written = 0
    try {
      const fh = await this.file()
      for (const [s, e] of todo) {
        const part = buf.subarray(s - offset, e - offset)
        let done = 0
        while (done < part.length) {
          const { bytesWritten } = await fh.write(part, done, part.length - done, s + done)
          done += bytesWritten
        }
        written += part.length
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
    this.store.emitUpdate(this)
    this.wake()
    return written
  }

  /**
   * The hash worker reads the file in order as the contiguous prefix grows, so the hash is
   * always of what is on disk, whatever order the bytes arrived in.
   */
  startHashing (): void {
    if (this.hashJob === undefined) {
      const job = this.store.hasher.open(this.path, this.size)
      this.hashJob = job.id
      job.digest.then((actual) => { void this.finish(actual) }, (err) => {
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
  private async finish (actual: string): Promise<void> {
    if (this.finishing || this.complete || this.failed !== undefined || this.dead) return
    this.finishing = true
    this.hashJob = undefined
    if (actual !== this.digest) {
      const err = new DigestMismatchError(`sha256 of the received bytes (${actual}) does not match ${this.digest}; discarded`, this.digest, actual)
      await this.store.discard(this, err)
      return
    }
    try {
      await this.checkpoint()
      const fh = await this.file()
      await fh.datasync()
      this.meta = { ...this.meta, state: 'complete', ranges: [[0, this.size]] }
      this.store.observe('index', this.digest, RangeSet.full(this.size))
      await this.store.index.putBlob(this.digest, this.meta)
    } catch (err) {
      this.finishing = false
      this.store.logger.error({ digest: this.digest, err: errorMessage(err) }, 'could not record completion')
      return
    }
    this.store.metrics.blobsCompleted.inc()
    this.store.logger.info({ digest: this.digest, size: this.size }, 'blob verified and complete')
    this.resolveCompletion()
    this.store.emitComplete(this)
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

  /** Read present bytes [start, end) in chunks; throws if a byte is not present. */
  async * read (start: number, end: number, chunk = READ_CHUNK): AsyncGenerator<Buffer> {
    if (!this.present.covers(start, end)) throw new StoreIOError(`bytes ${start}-${end} of ${this.digest} are not present`)
    const fh = await this.file()
    let pos = start
    while (pos < end) {
      const len = Math.min(chunk, end - pos)
      const buf = Buffer.allocUnsafe(len)
      const { bytesRead } = await fh.read(buf, 0, len, pos)
      if (bytesRead === 0) throw new StoreIOError(`unexpected end of file for ${this.digest} at ${pos}`)
      pos += bytesRead
      yield bytesRead === len ? buf : buf.subarray(0, bytesRead)
    }
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
    if (this.syncTimer !== undefined) { clearTimeout(this.syncTimer); this.syncTimer = undefined }
    this.stopHashing()
    await this.checkpoint()
    const fh = this.fh
    this.fh = undefined
    this.fhOpening = undefined
    await fh?.close().catch(() => {})
  }
}

/**
 * Blob data in sparse files written at their offsets, and a LevelDB index of what is there.
 * Entries for blobs in use are kept open and shared; others are read from the index on demand.
 */
export class BlobStore extends EventEmitter<{ event: [StoreEvent] }> {
  readonly syncBytes: number
  readonly syncIntervalMs: number
  readonly logger: Logger
  readonly metrics: Metrics
  private readonly entries = new Map<string, BlobEntry>()
  private readonly opening = new Map<string, Promise<BlobEntry | undefined>>()
  private readonly blobDir: string
  /** @internal One hash worker for every blob of the store. */
  readonly hasher = new Hasher()

  private constructor (readonly index: BlobIndex, private readonly init: BlobStoreInit) {
    super()
    this.syncBytes = init.syncBytes ?? 4 * 1024 * 1024
    this.syncIntervalMs = init.syncIntervalMs ?? 1000
    this.logger = init.logger
    this.metrics = init.metrics
    this.blobDir = join(init.dataDir, 'blobs', 'sha256')
  }

  static async open (init: BlobStoreInit): Promise<BlobStore> {
    await mkdir(join(init.dataDir, 'blobs', 'sha256'), { recursive: true })
    const index = await BlobIndex.open(join(init.dataDir, 'index'))
    return new BlobStore(index, init)
  }

  async close (): Promise<void> {
    for (const e of this.entries.values()) await e.closeFile()
    this.entries.clear()
    await this.hasher.stop()
    await this.index.close()
  }

  pathOf (digest: string): string { return join(this.blobDir, digest.slice('sha256:'.length)) }

  toInfo (digest: string, meta: BlobMeta, present?: RangeSet): BlobInfo {
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

  /** Live state of a digest: the open entry's view when in use, else the index's. */
  async stat (digest: string): Promise<BlobInfo | undefined> {
    const e = this.entries.get(digest)
    if (e !== undefined) return e.failed === undefined ? e.info() : undefined
    const meta = await this.index.getBlob(digest)
    return meta === undefined ? undefined : this.toInfo(digest, meta)
  }

  /** Open entries (in use right now). */
  openEntries (): BlobEntry[] { return [...this.entries.values()] }

  inUse (digest: string): boolean { return (this.entries.get(digest)?.refs ?? 0) > 0 }

  /**
   * Acquire the shared entry for a digest, creating its index record when `opts` is given and the
   * blob is unknown. Returns undefined for an unknown digest without `opts`. Call `release` after.
   */
  async acquire (digest: string, opts?: OpenOptions): Promise<BlobEntry | undefined> {
    let e = this.entries.get(digest)
    if (e === undefined || e.failed !== undefined) {
      let p = this.opening.get(digest)
      if (p === undefined) {
        p = this.load(digest, opts).finally(() => this.opening.delete(digest))
        this.opening.set(digest, p)
      }
      e = await p
      if (e === undefined) {
        if (opts === undefined) return undefined
        return await this.acquire(digest, opts)
      }
    }
    e.refs++
    return e
  }

  private async load (digest: string, opts?: OpenOptions): Promise<BlobEntry | undefined> {
    let meta = await this.index.getBlob(digest)
    const path = this.pathOf(digest)
    if (meta !== undefined) {
      // The file must back what the index claims; if it was removed or truncated behind our
      // back, forget the bytes rather than serve holes.
      const st = await stat(path).catch(() => undefined)
      const maxEnd = meta.ranges.length > 0 ? meta.ranges[meta.ranges.length - 1][1] : 0
      if (st === undefined ? maxEnd > 0 : st.size < maxEnd) {
        this.logger.warn({ digest }, 'blob file missing or truncated; its bytes are forgotten')
        meta = { ...meta, state: 'partial', ranges: [] }
        await this.index.putBlob(digest, meta)
      }
    } else {
      if (opts === undefined) return undefined
      const now = Date.now()
      meta = {
        size: opts.size,
        state: 'partial',
        ranges: [],
        mediaType: opts.mediaType,
        origin: opts.origin,
        credentialed: opts.credentialed ?? false,
        pinned: false,
        lastAccess: now,
        createdAt: now
      }
      // Record the blob before its file exists: a crash leaves an empty record, never an orphan.
      await this.index.putBlob(digest, meta)
    }
    const e = new BlobEntry(this, digest, path, meta)
    this.entries.set(digest, e)
    return e
  }

  release (e: BlobEntry): void {
    e.refs--
    if (e.refs > 0) return
    if (e.dropWhenIdle !== undefined) {
      const reason = e.dropWhenIdle
      this.remove(e.digest, reason).catch((err) => this.logger.error({ digest: e.digest, err: errorMessage(err) }, 'could not remove blob'))
      return
    }
    // Keep the fd briefly: clients often ask for the same blob again right away.
    setTimeout(() => {
      if (e.refs === 0 && this.entries.get(e.digest) === e) {
        this.entries.delete(e.digest)
        void e.closeFile()
      }
    }, 5000).unref()
  }

  openReadStream (digest: string, start: number, end: number): ReadStream {
    return createReadStream(this.pathOf(digest), { start, end: end - 1, highWaterMark: READ_CHUNK })
  }

  private readonly hashingPieces = new Map<string, Promise<Buffer[] | undefined>>()

  /**
   * Per-piece sha256 of a verified complete blob, computed from its file on first demand and
   * kept in the index. Undefined for a blob that is not complete.
   */
  async pieceHashes (digest: string): Promise<Buffer[] | undefined> {
    const cached = await this.index.getPieces(digest)
    if (cached !== undefined) return cached
    let p = this.hashingPieces.get(digest)
    if (p === undefined) {
      p = this.computePieces(digest).finally(() => this.hashingPieces.delete(digest))
      this.hashingPieces.set(digest, p)
    }
    return await p
  }

  private async computePieces (digest: string): Promise<Buffer[] | undefined> {
    const e = await this.acquire(digest)
    if (e === undefined) return undefined
    try {
      if (!e.complete) return undefined
      const out: Buffer[] = []
      for (let off = 0; off < e.size; off += PIECE_SIZE) {
        const h = createHash('sha256')
        for await (const buf of e.read(off, Math.min(e.size, off + PIECE_SIZE), PIECE_SIZE)) h.update(buf)
        out.push(h.digest())
      }
      if (!e.dead) await this.index.putPieces(digest, out)
      return out
    } finally { this.release(e) }
  }

  /** Store a small blob (manifest) whose bytes are all in memory; verifies the digest first. */
  async putSmall (digest: string, body: Buffer, opts: Omit<OpenOptions, 'size'>): Promise<void> {
    const actual = 'sha256:' + createHash('sha256').update(body).digest('hex')
    if (actual !== digest) throw new DigestMismatchError(`content does not match ${digest}`, digest, actual)
    const e = await this.acquire(digest, { ...opts, size: body.length })
    if (e === undefined) return
    try {
      if (!e.complete) {
        await e.write(0, body)
        if (body.length === 0) e.startHashing()
        await e.completion
      }
    } finally { this.release(e) }
  }

  async readSmall (digest: string, maxBytes: number): Promise<Buffer | undefined> {
    const e = await this.acquire(digest)
    if (e === undefined) return undefined
    try {
      if (!e.complete || e.size > maxBytes) return undefined
      const parts: Buffer[] = []
      for await (const b of e.read(0, e.size)) parts.push(b)
      e.touch()
      return Buffer.concat(parts)
    } finally { this.release(e) }
  }

  async list (): Promise<BlobInfo[]> {
    const out: BlobInfo[] = []
    for await (const [digest, meta] of this.index.blobs()) {
      const e = this.entries.get(digest)
      out.push(e !== undefined && e.failed === undefined ? e.info() : this.toInfo(digest, meta))
    }
    return out
  }

  async setPinned (digest: string, pinned: boolean): Promise<boolean> {
    const e = this.entries.get(digest)
    const meta = e?.meta ?? await this.index.getBlob(digest)
    if (meta === undefined) return false
    const next = { ...meta, pinned }
    if (e !== undefined) e.meta = next
    await this.index.putBlob(digest, next)
    return true
  }

  /** Remove a blob (GC). Refuses while it is in use; returns whether it was removed. */
  async remove (digest: string, reason: string): Promise<boolean> {
    if (this.inUse(digest)) return false
    const e = this.entries.get(digest)
    if (e !== undefined) { this.entries.delete(digest); await e.closeFile() }
    // Index first: a crash between the two leaves an orphan file (swept by GC), never a record
    // that names bytes that are gone.
    await this.index.deleteBlob(digest)
    await rm(this.pathOf(digest), { force: true })
    this.metrics.evictions.inc({ reason })
    this.emit('event', { type: 'remove', digest })
    return true
  }

  /** Data files with no index record (left by a crash during removal). */
  async sweepOrphans (): Promise<number> {
    let n = 0
    for (const name of await readdir(this.blobDir).catch(() => [] as string[])) {
      const digest = 'sha256:' + name
      if (this.entries.has(digest)) continue
      if (await this.index.getBlob(digest) === undefined) { await rm(join(this.blobDir, name), { force: true }); n++ }
    }
    return n
  }

  async getTag (registry: string, repository: string, tag: string): Promise<TagMeta | undefined> {
    return await this.index.getTag(registry, repository, tag)
  }

  async putTag (registry: string, repository: string, tag: string, meta: TagMeta): Promise<void> {
    await this.index.putTag(registry, repository, tag, meta)
  }

  /** @internal */
  async discard (e: BlobEntry, err: DigestMismatchError): Promise<void> {
    this.logger.error({ digest: e.digest, actual: err.actual }, 'digest mismatch: received bytes discarded')
    this.metrics.verificationFailures.inc({ source: 'blob' })
    if (this.entries.get(e.digest) === e) this.entries.delete(e.digest)
    e.dead = true // no more writes or checkpoints from here on; readers learn of it below
    await e.closeFile().catch(() => {})
    await this.index.deleteBlob(e.digest).catch(() => {})
    await rm(e.path, { force: true }).catch(() => {})
    e.fail(err)
    this.emit('event', { type: 'remove', digest: e.digest })
  }

  /** @internal */
  ioError (err: any, what: string): Error {
    if (err?.code === 'ENOSPC' || err?.code === 'EDQUOT') return new StoreFullError(`disk full while ${what}`)
    if (err instanceof StoreIOError) return err
    return new StoreIOError(`I/O error while ${what}: ${errorMessage(err)}`)
  }

  /** @internal */
  observe (op: 'write' | 'datasync' | 'index', digest: string, detail: RangeSet): void {
    this.init.onDurableOp?.(op, digest, detail)
  }

  /** @internal */
  emitUpdate (e: BlobEntry): void {
    if (this.listenerCount('event') > 0) this.emit('event', { type: 'update', info: e.info() })
  }

  /** @internal */
  emitComplete (e: BlobEntry): void {
    this.emit('event', { type: 'complete', info: e.info() })
  }
}
