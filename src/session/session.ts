import { AbortedError, BlobUnknownError, errorMessage } from '../errors.js'
import type { Logger } from '../log.js'
import type { Metrics } from '../metrics/metrics.js'
import type { BlobEntry } from '../store/blob-store.js'
import type { Upstream } from '../upstream/types.js'

/** Where a blob comes from upstream: the registry and repository of the request that wanted it. */
export interface BlobContext {
  registry: string
  repository: string
}

export interface SessionInit {
  /** Parallel upstream transfers for one blob (chunked clients ask for several offsets). Default 4. */
  maxUpstreamStreams?: number
  /**
   * A reader that waits this far (bytes) ahead of a running transfer gets its own transfer,
   * and the running one is cut short where the new one starts. Default 16 MiB.
   */
  splitBytes?: number
  /** Keep fetching with no reader attached for at most this long. Default 10 min. */
  detachedTimeoutMs?: number
  /** Bytes held back from a reader at the end of the blob until the sha256 verified. Default 64 KiB. */
  tailHoldBytes?: number
}

interface Claim {
  /** Next byte this worker will write. */
  pos: number
  /** One past the last byte it may write; lowered when another worker takes over the rest. */
  end: number
  source: string
  abort: AbortController
}

interface Reader { pos: number, end: number }

export interface SessionDeps {
  entry: BlobEntry
  upstream: Upstream
  metrics: Metrics
  logger: Logger
  init: SessionInit
  /** Called once when the session has nothing left to do (complete, failed, or detached too long). */
  onDone: (s: FetchSession) => void
}

/**
 * One fetch session per digest, shared by every reader of that digest. It plans which missing
 * bytes to fetch from where, streams present bytes to readers in order as they arrive, and
 * keeps going in the background after readers leave, so a client's retry resumes from disk.
 */
export class FetchSession {
  readonly digest: string
  private readonly entry: BlobEntry
  private readonly claims = new Set<Claim>()
  private readonly readers = new Set<Reader>()
  private ctx?: BlobContext
  private lastError?: Error
  private waiters: Array<() => void> = []
  private detachedTimer?: NodeJS.Timeout
  private done = false
  private readonly maxStreams: number
  private readonly splitBytes: number
  private readonly detachedTimeoutMs: number
  private readonly tailHold: number

  constructor (private readonly deps: SessionDeps) {
    this.entry = deps.entry
    this.digest = deps.entry.digest
    this.maxStreams = deps.init.maxUpstreamStreams ?? 4
    this.splitBytes = deps.init.splitBytes ?? 16 * 1024 * 1024
    this.detachedTimeoutMs = deps.init.detachedTimeoutMs ?? 10 * 60_000
    this.tailHold = deps.init.tailHoldBytes ?? 64 * 1024
    this.entry.completion.then(() => this.finish(), (err) => this.finish(err))
  }

  get size (): number { return this.entry.size }
  get isDone (): boolean { return this.done }
  get activeTransfers (): number { return this.claims.size }

  /** Adopt an upstream response that is already open (the request that told us the size). */
  adoptUpstream (ctx: BlobContext, start: number, body: AsyncIterable<Uint8Array>, abort: AbortController): void {
    this.ctx = ctx
    const claim: Claim = { pos: start, end: this.nextBoundary(start), source: 'upstream', abort }
    this.run(claim, async () => body)
  }

  /**
   * Stream bytes [start, end) to a reader, in order, as they become present. The last bytes of
   * the blob are released only after the whole blob verified.
   */
  async * stream (ctx: BlobContext, start: number, end: number, signal?: AbortSignal): AsyncGenerator<Buffer> {
    this.ctx = ctx
    this.lastError = undefined
    const reader: Reader = { pos: start, end }
    this.readers.add(reader)
    this.attached()
    try {
      while (reader.pos < end) {
        if (signal?.aborted === true) throw new AbortedError('client went away')
        if (this.entry.failed !== undefined) throw this.entry.failed
        const present = this.entry.present
        const runEnd = Math.min(present.contiguousEnd(reader.pos), end)
        // Hold back the tail of the blob until verification: a client never receives every byte
        // of a blob that fails its digest.
        const limit = end === this.size && !this.entry.complete ? Math.max(reader.pos, this.size - this.tailHold) : end
        const upto = Math.min(runEnd, limit)
        if (upto > reader.pos) {
          for await (const buf of this.entry.read(reader.pos, upto)) {
            reader.pos += buf.length
            yield buf
          }
          continue
        }
        if (runEnd > reader.pos) {
          // Only the held-back tail remains and it is all here: wait for the verdict.
          await this.wait(signal, this.entry.completion)
          continue
        }
        if (this.lastError !== undefined && !this.isClaimed(reader.pos)) throw this.lastError
        if (this.done) throw this.lastError ?? new AbortedError('fetch session stopped')
        this.plan()
        await this.wait(signal)
      }
    } finally {
      this.readers.delete(reader)
      if (this.readers.size === 0) this.detached()
    }
  }

  /** Make sure the whole blob gets fetched even if no reader asks for the rest. */
  ensureBackground (ctx: BlobContext): void {
    this.ctx ??= ctx
    this.plan()
    if (this.readers.size === 0) this.detached()
  }

  private wait (signal?: AbortSignal, extra?: Promise<void>): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let settled = false
      const settle = (fn: () => void): void => {
        if (settled) return
        settled = true
        signal?.removeEventListener('abort', onAbort)
        fn()
      }
      const onAbort = (): void => settle(() => reject(new AbortedError('client went away')))
      if (signal?.aborted === true) { onAbort(); return }
      signal?.addEventListener('abort', onAbort, { once: true })
      this.waiters.push(() => settle(resolve))
      this.entry.changed().then(() => settle(resolve), () => {})
      extra?.then(() => settle(resolve), () => settle(resolve))
    })
  }

  private wake (): void {
    const w = this.waiters
    this.waiters = []
    for (const fn of w) fn()
  }

  private isClaimed (pos: number): boolean {
    for (const c of this.claims) if (c.pos <= pos && pos < c.end) return true
    return false
  }

  /** First byte after `pos` that is present or claimed by another worker (or the size). */
  private nextBoundary (pos: number): number {
    let b = this.entry.present.nextPresent(pos) ?? this.size
    for (const c of this.claims) if (c.pos > pos && c.pos < b) b = c.pos
    return b
  }

  /**
   * Decide what to fetch: every reader's first missing byte, plus the first missing byte of the
   * whole blob (background completion). A position inside a running transfer waits for it,
   * unless it is far ahead, in which case it gets its own transfer.
   */
  plan (): void {
    if (this.done || this.entry.complete || this.entry.failed !== undefined || this.ctx === undefined) return
    const present = this.entry.present
    const targets = new Set<number>()
    for (const r of this.readers) {
      const p = present.firstMissing(r.pos)
      if (p < r.end) targets.add(p)
    }
    if (this.lastError === undefined) {
      const p = present.firstMissing(0)
      if (p < this.size) targets.add(p)
    }
    for (const p of [...targets].sort((a, b) => a - b)) {
      if (this.claims.size >= this.maxStreams) break
      let inside: Claim | undefined
      for (const c of this.claims) if (c.pos <= p && p < c.end) { inside = c; break }
      if (inside !== undefined) {
        if (p - inside.pos <= this.splitBytes) continue
        const end = inside.end
        inside.end = p
        this.startUpstream(p, end)
        continue
      }
      this.startUpstream(p, this.nextBoundary(p))
    }
  }

  private startUpstream (start: number, end: number): void {
    const ctx = this.ctx!
    const abort = new AbortController()
    const claim: Claim = { pos: start, end, source: 'upstream', abort }
    this.run(claim, async () => {
      const res = await this.deps.upstream.fetchBlob(ctx.registry, ctx.repository, this.digest, {
        start,
        end: end >= this.size ? undefined : end,
        signal: abort.signal
      })
      if (res.size !== this.size) throw new BlobUnknownError(`upstream size ${res.size} of ${this.digest} differs from the known size ${this.size}`)
      return res.body
    })
  }

  /** Run one transfer: write what arrives at its offset until the claim is done or cut short. */
  private run (claim: Claim, open: () => Promise<AsyncIterable<Uint8Array>>): void {
    this.claims.add(claim)
    const { logger, metrics } = this.deps
    void (async () => {
      try {
        const body = await open()
        for await (const chunk of body) {
          const take = Math.min(chunk.length, claim.end - claim.pos)
          if (take > 0) {
            await this.entry.write(claim.pos, take === chunk.length ? chunk : chunk.subarray(0, take))
            metrics.bytesBySource.inc({ source: claim.source }, take)
            claim.pos += take
          }
          if (claim.pos >= claim.end) break
        }
      } catch (err: any) {
        if (claim.abort.signal.aborted || this.done) return
        this.lastError = err instanceof Error ? err : new Error(String(err))
        logger.warn({ digest: this.digest, source: claim.source, at: claim.pos, err: errorMessage(err), code: err?.code }, 'transfer failed')
      } finally {
        if (!claim.abort.signal.aborted) claim.abort.abort()
        this.claims.delete(claim)
        this.wake()
        if (!this.done) {
          this.plan()
          if (this.claims.size === 0 && this.readers.size === 0 && this.lastError !== undefined) this.finish(this.lastError)
        }
      }
    })()
  }

  private attached (): void {
    if (this.detachedTimer !== undefined) { clearTimeout(this.detachedTimer); this.detachedTimer = undefined }
  }

  private detached (): void {
    if (this.done || this.detachedTimer !== undefined) return
    if (this.claims.size === 0 && this.lastError !== undefined) { this.finish(this.lastError); return }
    this.detachedTimer = setTimeout(() => {
      this.deps.logger.info({ digest: this.digest }, 'no reader for too long: background fetch stopped (resumable)')
      this.finish()
    }, this.detachedTimeoutMs)
    this.detachedTimer.unref()
  }

  /** Stop everything (agent shutdown, completion, failure). */
  finish (err?: unknown): void {
    if (this.done) return
    this.done = true
    if (this.detachedTimer !== undefined) clearTimeout(this.detachedTimer)
    for (const c of this.claims) c.abort.abort()
    if (err !== undefined && this.lastError === undefined) this.lastError = err instanceof Error ? err : new Error(String(err))
    this.wake()
    this.deps.onDone(this)
  }
}
