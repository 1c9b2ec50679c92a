import { createHash } from 'node:crypto'
import { EventEmitter } from 'node:events'
import { mkdir, readdir, rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { DEFAULTS } from '../config/defaults.js'
import { ConfigError, DigestMismatchError, StoreFullError, StoreIOError, errorMessage } from '../errors.js'
import type { Logger } from '../log.js'
import type { Metrics } from '../metrics/metrics.js'
import type { RangeSet } from '../util/ranges.js'
import { BlobEntry, blobInfo, type BlobInfo, type EntryHost } from './blob-entry.js'
import { Hasher } from './hasher.js'
import type { DataThread } from '../thread/data-thread.js'
import { BlobIndex, type BlobMeta, type BlobOrigin, type BlobState, type TagMeta } from './index-db.js'
import { computePieceHashes } from './pieces.js'
import { StoreStats } from './stats.js'

export { BlobEntry }
export type { BlobInfo, BlobMeta, BlobOrigin, BlobState, TagMeta }

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
  /** The agent's data thread, where blobs are hashed. Default: one of the store's own. */
  thread?: DataThread
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


/**
 * Blob data in sparse files written at their offsets, and a LevelDB index of what is there.
 * Entries for blobs in use are kept open and shared; others are read from the index on demand.
 */
export class BlobStore extends EventEmitter<{ event: [StoreEvent] }> implements EntryHost {
  readonly syncBytes: number
  readonly syncIntervalMs: number
  readonly logger: Logger
  readonly metrics: Metrics
  private readonly entries = new Map<string, BlobEntry>()
  private readonly opening = new Map<string, Promise<BlobEntry | undefined>>()
  private readonly blobDir: string
  /** @internal The hashing of every blob of the store, in the data thread. */
  readonly hasher: Hasher
  /** Blobs and bytes by state, kept up to date on every change (the /metrics gauges read it). */
  readonly stats: StoreStats

  private constructor (readonly index: BlobIndex, private readonly init: BlobStoreInit, stats: StoreStats) {
    super()
    this.stats = stats
    this.syncBytes = init.syncBytes ?? DEFAULTS.store.syncBytes
    this.syncIntervalMs = init.syncIntervalMs ?? DEFAULTS.store.syncIntervalMs
    this.logger = init.logger
    this.metrics = init.metrics
    this.blobDir = join(init.dataDir, 'blobs', 'sha256')
    this.hasher = new Hasher(init.thread)
  }

  static async open (init: BlobStoreInit): Promise<BlobStore> {
    await mkdir(join(init.dataDir, 'blobs', 'sha256'), { recursive: true })
    let index: BlobIndex
    try {
      index = await BlobIndex.open(join(init.dataDir, 'index'))
    } catch (err: any) {
      // LevelDB holds a lock file while open: another agent (or `layerd gc`) owns this store.
      if (err?.code === 'LEVEL_DATABASE_NOT_OPEN' && err?.cause?.code === 'LEVEL_LOCKED') {
        throw new ConfigError(`data directory ${init.dataDir} is in use by another layerd (stop it, or use --data-dir)`, { cause: err })
      }
      throw err
    }
    // One pass over the index at start; from then on the counts move with each change.
    const stats = new StoreStats()
    for await (const [, meta] of index.blobs()) stats.add(meta.state, meta.ranges)
    return new BlobStore(index, init, stats)
  }

  async close (): Promise<void> {
    for (const e of this.entries.values()) await e.closeFile()
    this.entries.clear()
    await this.hasher.stop()
    await this.index.close()
  }

  pathOf (digest: string): string { return join(this.blobDir, digest.slice('sha256:'.length)) }

  /** Live state of a digest: the open entry's view when in use, else the index's. */
  async stat (digest: string): Promise<BlobInfo | undefined> {
    const e = this.entries.get(digest)
    if (e !== undefined) return e.failed === undefined ? e.info() : undefined
    const meta = await this.index.getBlob(digest)
    return meta === undefined ? undefined : blobInfo(digest, meta)
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
        this.stats.remove(meta.state, meta.ranges)
        meta = { ...meta, state: 'partial', ranges: [] }
        this.stats.add('partial', [])
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
      this.stats.add('partial', [])
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
    }, DEFAULTS.store.keepOpenMs).unref()
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
      const out = await computePieceHashes(e)
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
      out.push(e !== undefined && e.failed === undefined ? e.info() : blobInfo(digest, meta))
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
    const meta = e?.meta ?? await this.index.getBlob(digest)
    await this.index.deleteBlob(digest)
    if (meta !== undefined) this.stats.remove(meta.state, e?.present.toArray() ?? meta.ranges)
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
    this.stats.remove(e.meta.state, e.present.toArray())
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
  written (e: BlobEntry, bytes: number): void {
    this.stats.grow('partial', bytes)
    if (this.listenerCount('event') > 0) this.emit('event', { type: 'update', info: e.info() })
  }

  /** @internal */
  completed (e: BlobEntry, partialBytes: number): void {
    this.stats.remove('partial', [[0, partialBytes]])
    this.stats.add('complete', [[0, e.size]])
    this.emit('event', { type: 'complete', info: e.info() })
  }
}
