import { AbortedError } from '../errors.js'
import type { Logger } from '../log.js'
import type { Metrics } from '../metrics/metrics.js'
import type { BlobEntry, BlobStore } from '../store/blob-store.js'
import type { Upstream } from '../upstream/types.js'
import { FetchSession, type BlobContext, type SessionInit } from './session.js'

export type { BlobContext, SessionInit }

export interface SessionManagerInit {
  store: BlobStore
  upstream: Upstream
  metrics: Metrics
  logger: Logger
  session?: SessionInit
}

export interface BlobRead {
  size: number
  body: AsyncIterable<Buffer>
}

/**
 * Owns the fetch sessions: at most one per digest, created on first demand and shared by every
 * later reader. A blob the store has never seen is opened with an upstream GET from byte 0,
 * whose response tells the size and becomes the session's first transfer (no extra HEAD).
 */
export class SessionManager {
  private readonly sessions = new Map<string, FetchSession>()
  private readonly opening = new Map<string, Promise<FetchSession>>()
  private stopped = false

  constructor (private readonly init: SessionManagerInit) {}

  /** Digests with a running session (for the inventory's `fetching` flag). */
  isFetching (digest: string): boolean {
    const s = this.sessions.get(digest)
    return s !== undefined && !s.isDone && s.activeTransfers > 0
  }

  active (): FetchSession[] { return [...this.sessions.values()] }

  async session (digest: string, ctx: BlobContext, signal?: AbortSignal): Promise<FetchSession> {
    if (this.stopped) throw new AbortedError('agent is stopping')
    const s = this.sessions.get(digest)
    if (s !== undefined && !s.isDone) return s
    let p = this.opening.get(digest)
    if (p === undefined) {
      p = this.create(digest, ctx, signal).finally(() => this.opening.delete(digest))
      this.opening.set(digest, p)
    }
    return await p
  }

  private async create (digest: string, ctx: BlobContext, signal?: AbortSignal): Promise<FetchSession> {
    const { store, upstream } = this.init
    let entry = await store.acquire(digest)
    if (entry !== undefined) {
      const s = this.attach(entry)
      if (!entry.complete) {
        // Bytes on disk from before a restart are hashed from the start; fetching resumes at the
        // first missing byte.
        entry.startHashing()
        s.ensureBackground(ctx)
      }
      return s
    }
    // Unknown blob: the first upstream response gives its size and becomes the first transfer.
    // Its abort is not tied to the client: the download outlives a client that goes away.
    const abort = new AbortController()
    const onAbort = (): void => abort.abort()
    signal?.addEventListener('abort', onAbort, { once: true })
    let res
    try {
      res = await upstream.fetchBlob(ctx.registry, ctx.repository, digest, { start: 0, signal: abort.signal })
    } finally { signal?.removeEventListener('abort', onAbort) }
    entry = await store.acquire(digest, {
      size: res.size,
      origin: { registry: ctx.registry, repository: ctx.repository },
      credentialed: upstream.isCredentialed(ctx.registry)
    })
    const s = this.attach(entry!)
    if (entry!.size !== res.size) {
      abort.abort()
      s.ensureBackground(ctx)
    } else if (entry!.complete) {
      abort.abort()
    } else {
      s.adoptUpstream(ctx, 0, res.body, abort)
      s.ensureBackground(ctx)
    }
    return s
  }

  private attach (entry: BlobEntry): FetchSession {
    const s = new FetchSession({
      entry,
      upstream: this.init.upstream,
      metrics: this.init.metrics,
      logger: this.init.logger,
      init: this.init.session ?? {},
      onDone: (done) => {
        if (this.sessions.get(entry.digest) === done) this.sessions.delete(entry.digest)
        this.init.store.release(entry)
      }
    })
    this.sessions.set(entry.digest, s)
    if (entry.complete) s.finish()
    return s
  }

  /**
   * Bytes [start, end) of a blob that is not complete on disk (end undefined = to the end).
   * Holds its own reference on the entry so the file stays open while the client reads.
   */
  async read (digest: string, ctx: BlobContext, start: number, end: number | undefined, signal?: AbortSignal): Promise<BlobRead & { session: FetchSession }> {
    const s = await this.session(digest, ctx, signal)
    const entry = await this.init.store.acquire(digest)
    if (entry === undefined) throw new AbortedError('blob vanished while opening')
    const stop = Math.min(end ?? s.size, s.size)
    const store = this.init.store
    async function * body (): AsyncGenerator<Buffer> {
      try {
        yield * s.stream(ctx, start, stop, signal)
      } finally { store.release(entry!) }
    }
    return { size: s.size, body: body(), session: s }
  }

  async stop (): Promise<void> {
    this.stopped = true
    for (const s of this.sessions.values()) s.finish(new AbortedError('agent is stopping'))
    this.sessions.clear()
  }
}
