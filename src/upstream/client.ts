// The upstream registry client: manifests and blobs from remote OCI registries over one pooled
// keep-alive undici Agent, with Bearer/Basic auth, redirects followed by hand (Docker Hub sends blobs
// to a CDN), bounded retries with backoff + full jitter and Retry-After, a per-registry circuit
// breaker, and transparently resumed blob transfers (Range: bytes=<next>- with a strong-ETag check
// and a no-progress timeout).
//
// Secrets (passwords, tokens, Authorization headers, signed CDN query strings) never appear in logs
// or error messages: messages name the registry, the repository, the digest and at most a URL's
// origin and path.

import { createHash } from 'node:crypto'
import { Agent } from 'undici'
import { DEFAULTS } from '../config/defaults.js'
import {
  AbortedError, ConfigError, DigestMismatchError, NoProgressError, RangeInvalidError, UpstreamProtocolError,
  errorMessage, isLayerdError
} from '../errors.js'
import type { Logger } from '../log.js'
import type { Metrics } from '../metrics/metrics.js'
import { DEFAULT_MANIFEST_ACCEPT, manifestMediaType } from '../oci/media-types.js'
import { isDigestReference, isSha256Digest, parseDigest, parseName, parseReference } from '../oci/reference.js'
import { sleep } from '../util/sleep.js'
import { createAuthenticator, pullScope, type Authenticator } from './auth.js'
import { contentLength, discard, drain, header, nextWithin, parseContentRange, type Body } from './http.js'
import { createRegistries, type Reg, type Registries } from './registries.js'
import { exchange, failStatus, type RequestDeps } from './request.js'
import { RetryableError, retryDecision, withRetry, type RetryDeps, type RetryOptions } from './retry.js'
import type { BlobFetchOptions, BlobStream, ManifestHead, ManifestResult, Upstream, UpstreamRegistry } from './types.js'

export { parseContentRange, parseRetryAfter } from './http.js'

export interface UpstreamInit {
  /** Registries we may pull from. `docker.io` is added as `https://registry-1.docker.io` unless given. */
  registries: UpstreamRegistry[]
  metrics: Metrics
  logger: Logger
  /** TCP (+TLS) connect timeout, in ms. Default 10 000. */
  connectTimeoutMs?: number
  /** Time to wait for response headers, in ms. Default 30 000. */
  headersTimeoutMs?: number
  /** A transfer that receives no body byte for this long is aborted and resumed, in ms. Default 30 000. */
  noProgressTimeoutMs?: number
  /** Attempts per operation (consecutive attempts without progress for blobs). Default 6. */
  maxAttempts?: number
  /** Backoff base: attempt n waits a random time in [0, min(backoffMaxMs, base * 2^(n-1))]. Default 250. */
  backoffBaseMs?: number
  /** Backoff ceiling, in ms. Default 10 000. */
  backoffMaxMs?: number
  /** Longest Retry-After we wait for (longer values are capped to this), in ms. Default `backoffMaxMs`. */
  retryAfterMaxMs?: number
  /** Consecutive failures that open a registry's circuit breaker. Default 5. */
  breakerThreshold?: number
  /** How long an open breaker fails fast before one trial request, in ms. Default 30 000. */
  breakerOpenMs?: number
  /** Redirect hops followed per request. Default 5. */
  maxRedirects?: number
  /** Largest manifest accepted, in bytes. Default 4 MiB. */
  maxManifestBytes?: number
  /** User-Agent header. Default `layerd/0.1`. */
  userAgent?: string
  /** Bearer tokens are dropped this long before they expire (at most half their lifetime), in ms. Default 10 000. */
  tokenExpiryMarginMs?: number
  /** Idle keep-alive sockets are closed after this long, in ms. Default 30 000. */
  keepAliveTimeoutMs?: number
}

interface Opened {
  body: Body
  /** Bytes of this response to drop before `pos` (a 200 to a ranged request). */
  skip: number
  /** Blob offset (exclusive) where this response's useful bytes end. */
  respEnd: number
}

const D = DEFAULTS.upstream

class UpstreamClient implements Upstream {
  private readonly regs: Registries
  private readonly deps: RetryDeps & RequestDeps
  private readonly agent: Agent
  private readonly auth: Authenticator
  private readonly metrics: Metrics
  private readonly log: Logger
  private readonly headersTimeoutMs: number
  private readonly noProgressTimeoutMs: number
  private readonly maxRedirects: number
  private readonly maxManifestBytes: number
  private readonly userAgent: string
  private closed = false

  constructor (init: UpstreamInit) {
    this.metrics = init.metrics
    this.log = init.logger.child({ component: 'upstream' })
    const connectTimeoutMs = positive('connectTimeoutMs', init.connectTimeoutMs, D.connectTimeoutMs)
    this.headersTimeoutMs = positive('headersTimeoutMs', init.headersTimeoutMs, D.headersTimeoutMs)
    this.noProgressTimeoutMs = positive('noProgressTimeoutMs', init.noProgressTimeoutMs, D.noProgressTimeoutMs)
    const backoffMaxMs = nonNegative('backoffMaxMs', init.backoffMaxMs, D.backoffMaxMs)
    const retry: RetryOptions = {
      maxAttempts: Math.floor(positive('maxAttempts', init.maxAttempts, D.maxAttempts)),
      backoffBaseMs: nonNegative('backoffBaseMs', init.backoffBaseMs, D.backoffBaseMs),
      backoffMaxMs,
      retryAfterMaxMs: nonNegative('retryAfterMaxMs', init.retryAfterMaxMs, backoffMaxMs)
    }
    this.maxRedirects = Math.floor(nonNegative('maxRedirects', init.maxRedirects, D.maxRedirects))
    this.maxManifestBytes = positive('maxManifestBytes', init.maxManifestBytes, D.maxManifestBytes)
    this.userAgent = init.userAgent ?? D.userAgent
    this.regs = createRegistries(init.registries, {
      threshold: Math.floor(positive('breakerThreshold', init.breakerThreshold, D.breakerThreshold)),
      openMs: nonNegative('breakerOpenMs', init.breakerOpenMs, D.breakerOpenMs)
    })

    const keepAliveTimeout = positive('keepAliveTimeoutMs', init.keepAliveTimeoutMs, D.keepAliveTimeoutMs)
    this.agent = new Agent({
      connect: { timeout: connectTimeoutMs },
      headersTimeout: this.headersTimeoutMs,
      bodyTimeout: 0, // our own no-progress timer, which does not count time the consumer holds a chunk
      keepAliveTimeout,
      keepAliveMaxTimeout: Math.max(keepAliveTimeout, 600_000)
    })
    this.auth = createAuthenticator({
      dispatcher: this.agent,
      logger: this.log,
      userAgent: this.userAgent,
      headersTimeoutMs: this.headersTimeoutMs,
      bodyTimeoutMs: this.noProgressTimeoutMs,
      tokenExpiryMarginMs: init.tokenExpiryMarginMs ?? D.tokenExpiryMarginMs
    })
    this.deps = {
      agent: this.agent,
      auth: this.auth,
      userAgent: this.userAgent,
      headersTimeoutMs: this.headersTimeoutMs,
      maxRedirects: this.maxRedirects,
      retry,
      log: this.log,
      closed: () => this.closed,
      checkOpen: (signal?: AbortSignal) => { this.checkOpen(signal) },
      count: (reg: Reg, outcome: string) => { this.count(reg, outcome) }
    }
  }

  registry (name: string): UpstreamRegistry {
    return this.regs.get(name).def
  }

  isCredentialed (name: string): boolean {
    return this.regs.get(name).def.credentials != null
  }

  async getManifest (registry: string, repository: string, reference: string, accept: string[], signal?: AbortSignal): Promise<ManifestResult> {
    const reg = this.regs.get(registry)
    parseName(repository)
    parseReference(reference)
    this.checkOpen(signal)
    const what = `GET manifest ${repository}:${reference}`
    return await withRetry(this.deps, reg, what, signal, { failures: 0 }, async () => {
      const { res } = await exchange(this.deps, reg, { method: 'GET', path: `/v2/${repository}/manifests/${reference}`, headers: { accept: acceptHeader(accept) }, scope: pullScope(repository), signal })
      if (res.statusCode !== 200) return await failStatus(reg, res, 'manifest', `${repository}:${reference}`)
      const len = contentLength(res.headers)
      if (len !== undefined && len > this.maxManifestBytes) {
        discard(res.body)
        throw new UpstreamProtocolError(`${reg.def.name}: manifest ${repository}:${reference} is ${len} bytes, over the ${this.maxManifestBytes} byte limit`)
      }
      const body = await this.readAll(reg, res.body, this.maxManifestBytes, `manifest ${repository}:${reference}`, signal)
      const digest = 'sha256:' + createHash('sha256').update(body).digest('hex')
      if (isDigestReference(reference) && digest !== reference) {
        throw new DigestMismatchError(`${reg.def.name}: manifest ${repository}@${reference} has digest ${digest}`, reference, digest)
      }
      const dcd = header(res.headers, 'docker-content-digest')
      if (dcd !== undefined && dcd.startsWith('sha256:') && dcd !== digest) {
        throw new DigestMismatchError(`${reg.def.name}: manifest ${repository}:${reference} has digest ${digest} but Docker-Content-Digest says ${dcd}`, dcd, digest)
      }
      return { body, mediaType: manifestMediaType(header(res.headers, 'content-type'), body), digest }
    })
  }

  async headManifest (registry: string, repository: string, reference: string, accept: string[], signal?: AbortSignal): Promise<ManifestHead> {
    const reg = this.regs.get(registry)
    parseName(repository)
    parseReference(reference)
    this.checkOpen(signal)
    const what = `HEAD manifest ${repository}:${reference}`
    const head = await withRetry(this.deps, reg, what, signal, { failures: 0 }, async (): Promise<ManifestHead | undefined> => {
      const { res } = await exchange(this.deps, reg, { method: 'HEAD', path: `/v2/${repository}/manifests/${reference}`, headers: { accept: acceptHeader(accept) }, scope: pullScope(repository), signal })
      if (res.statusCode !== 200) return await failStatus(reg, res, 'manifest', `${repository}:${reference}`)
      await drain(res.body)
      const dcd = header(res.headers, 'docker-content-digest')
      const size = contentLength(res.headers)
      const mediaType = header(res.headers, 'content-type')?.split(';')[0].trim()
      if (!isSha256Digest(dcd) || size === undefined || mediaType === undefined || mediaType === '') return undefined
      if (isDigestReference(reference) && dcd !== reference) {
        throw new DigestMismatchError(`${reg.def.name}: manifest ${repository}@${reference} reported as ${dcd}`, reference, dcd)
      }
      return { mediaType, digest: dcd, size }
    })
    if (head !== undefined) return head
    // No (usable) Docker-Content-Digest: GET the manifest and compute it.
    this.log.debug({ registry: reg.def.name, repository, reference }, 'manifest HEAD without Docker-Content-Digest, falling back to GET')
    const m = await this.getManifest(registry, repository, reference, accept, signal)
    return { mediaType: m.mediaType, digest: m.digest, size: m.body.length }
  }

  async statBlob (registry: string, repository: string, digest: string, signal?: AbortSignal): Promise<{ size: number }> {
    const reg = this.regs.get(registry)
    parseName(repository)
    parseDigest(digest)
    this.checkOpen(signal)
    return await withRetry(this.deps, reg, `HEAD blob ${repository}@${digest}`, signal, { failures: 0 }, async () => {
      const { res } = await exchange(this.deps, reg, { method: 'HEAD', path: `/v2/${repository}/blobs/${digest}`, headers: {}, scope: pullScope(repository), signal })
      if (res.statusCode !== 200) return await failStatus(reg, res, 'blob', `${repository}@${digest}`)
      await drain(res.body)
      const size = contentLength(res.headers)
      if (size === undefined) throw new UpstreamProtocolError(`${reg.def.name}: HEAD blob ${repository}@${digest} has no Content-Length`)
      return { size }
    })
  }

  async fetchBlob (registry: string, repository: string, digest: string, opts: BlobFetchOptions): Promise<BlobStream> {
    const reg = this.regs.get(registry)
    parseName(repository)
    parseDigest(digest)
    const { start, end, signal } = opts
    if (!Number.isSafeInteger(start) || start < 0) throw new RangeInvalidError(`invalid blob range start ${start}`)
    if (end !== undefined && (!Number.isSafeInteger(end) || end <= start)) throw new RangeInvalidError(`invalid blob range [${start}, ${end})`)
    this.checkOpen(signal)

    const name = reg.def.name
    const what = `blob ${repository}@${digest}`
    const path = `/v2/${repository}/blobs/${digest}`
    const scope = pullScope(repository)
    const budget = { failures: 0 }
    let size: number | undefined
    let wantedEnd = end ?? Number.MAX_SAFE_INTEGER
    let etag: string | undefined
    let warnedFull = false

    const open = async (pos: number, resuming: boolean): Promise<Opened> => await withRetry(this.deps, reg, what, signal, budget, async () => {
      const range = `bytes=${pos}-${end !== undefined ? String(end - 1) : ''}`
      const { res } = await exchange(this.deps, reg, { method: 'GET', path, headers: { range, 'accept-encoding': 'identity' }, scope, signal })
      const status = res.statusCode
      if (status !== 200 && status !== 206) return await failStatus(reg, res, 'blob', `${repository}@${digest}`)
      try {
        const proto = (msg: string): UpstreamProtocolError => new UpstreamProtocolError(`${name}: ${what}: ${msg}`)
        let total: number
        let respStart: number
        let respEnd: number
        if (status === 206) {
          const cr = parseContentRange(header(res.headers, 'content-range'))
          if (cr == null) throw proto('206 without a valid Content-Range')
          if (cr.start !== pos) throw proto(`206 starts at ${cr.start}, asked for ${pos}`)
          const t = cr.size ?? size
          if (t === undefined) throw proto('206 without the total size in Content-Range')
          total = t
          respStart = cr.start
          respEnd = cr.end + 1
        } else {
          const len = contentLength(res.headers)
          if (len === undefined) throw proto('200 without Content-Length')
          total = len
          respStart = 0
          respEnd = len
          if (pos > 0 && !warnedFull) {
            warnedFull = true
            this.log.warn({ registry: name, repository, digest, offset: pos }, 'upstream ignored Range and sent the whole blob; skipping forward')
          }
        }
        if (size !== undefined && total !== size) throw proto(`blob size changed from ${size} to ${total}`)
        if (respEnd > total || respEnd <= respStart) throw proto(`inconsistent range ${respStart}-${respEnd - 1}/${total}`)
        const tag = header(res.headers, 'etag')
        if (!resuming) {
          if (tag !== undefined && !tag.startsWith('W/')) etag = tag
        } else if (etag !== undefined && tag !== undefined && tag !== etag) {
          throw proto(`ETag changed on resume (${etag} -> ${tag})`)
        }
        if (pos >= total) throw new RangeInvalidError(`${name}: ${what}: offset ${pos} is beyond the blob size ${total}`, total)
        size = total
        wantedEnd = Math.min(end ?? total, total)
        return { body: res.body, skip: pos - respStart, respEnd: Math.min(respEnd, wantedEnd) }
      } catch (err) {
        discard(res.body)
        throw err
      }
    })

    let cur: Opened | undefined = await open(start, false)
    let pos = start
    let resumes = 0
    const aborted = (): AbortedError => new AbortedError(this.closed ? 'upstream client closed' : `${what} from ${name} aborted`)
    const onAbort = (): void => { if (cur != null) discard(cur.body, aborted()) }
    signal?.addEventListener('abort', onAbort, { once: true })
    const cleanup = (): void => {
      signal?.removeEventListener('abort', onAbort)
      if (cur != null) discard(cur.body)
    }

    const self = this
    async function * run (): AsyncGenerator<Uint8Array, undefined, undefined> {
      try {
        while (pos < wantedEnd) {
          const c: Opened = cur as Opened
          let failure: unknown
          let progressed = false
          let skip = c.skip
          const it = c.body[Symbol.asyncIterator]() as AsyncIterator<Buffer>
          while (pos < c.respEnd) {
            let r: IteratorResult<Buffer>
            try { r = await self.nextWithin(it, c.body, reg, what) } catch (err) { failure = err; break }
            if (r.done === true) break
            let chunk = r.value
            self.metrics.upstreamBytes.inc({ registry: name }, chunk.length)
            if (skip > 0) {
              if (chunk.length <= skip) { skip -= chunk.length; continue }
              chunk = chunk.subarray(skip)
              skip = 0
            }
            const room = c.respEnd - pos
            if (chunk.length > room) chunk = chunk.subarray(0, room)
            pos += chunk.length
            progressed = true
            yield chunk
          }
          if (pos >= wantedEnd) break
          discard(c.body)
          if (signal?.aborted === true || self.closed) throw aborted()
          if (pos >= c.respEnd) {
            // The response ended where it said it would (a server may send less than asked): continue.
            cur = await open(pos, true)
            continue
          }
          if (failure !== undefined && isLayerdError(failure) && !(failure instanceof NoProgressError)) throw failure
          // A broken transfer: resume at pos.
          reg.breaker.failure()
          if (progressed) budget.failures = 0
          budget.failures++
          const reason = failure === undefined ? `body ended at offset ${pos}, expected ${c.respEnd}` : errorMessage(failure)
          const decision = retryDecision(new RetryableError(reason, false, undefined, { cause: failure }), budget.failures, self.deps.retry, `${name}: ${what}`)
          if (!decision.retry) throw decision.error
          resumes++
          self.metrics.resumes.inc({ registry: name })
          self.log.info({ registry: name, repository, digest, offset: pos, attempt: resumes, reason }, 'resuming upstream blob transfer')
          opts.onResume?.(pos, resumes)
          if (!progressed) await sleep(decision.delayMs, signal, aborted)
          cur = await open(pos, true)
        }
        return undefined
      } finally {
        cleanup()
      }
    }

    const gen = run()
    let iterated = false
    const body: AsyncIterable<Uint8Array> = {
      [Symbol.asyncIterator]: (): AsyncIterator<Uint8Array> => {
        if (iterated) throw new Error('a blob body can only be iterated once')
        iterated = true
        return {
          next: async () => await gen.next(),
          return: async () => { cleanup(); return await gen.return(undefined) },
          throw: async (err?: unknown) => { cleanup(); return await gen.throw(err) }
        }
      }
    }
    return { size: size as number, body }
  }

  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.auth.clear()
    await this.agent.destroy()
  }

  // --- internals ---

  private checkOpen (signal?: AbortSignal): void {
    if (this.closed) throw new AbortedError('upstream client closed')
    if (signal?.aborted === true) throw new AbortedError('aborted before the upstream request started')
  }

  private count (reg: Reg, outcome: string): void {
    this.metrics.upstreamRequests.inc({ registry: reg.def.name, outcome })
  }

  /** Await the next body chunk; no chunk within noProgressTimeoutMs destroys the body with NoProgressError. */
  private async nextWithin (it: AsyncIterator<Buffer>, body: Body, reg: Reg, what: string): Promise<IteratorResult<Buffer>> {
    return await nextWithin(it, body, this.noProgressTimeoutMs, () => new NoProgressError(`${reg.def.name}: ${what}: no data for ${this.noProgressTimeoutMs} ms`))
  }

  /** Read a whole (small) body with a size limit and the no-progress timer; failures are retryable. */
  private async readAll (reg: Reg, body: Body, limit: number, what: string, signal?: AbortSignal): Promise<Buffer> {
    const chunks: Buffer[] = []
    let total = 0
    const it = body[Symbol.asyncIterator]() as AsyncIterator<Buffer>
    try {
      for (;;) {
        const r = await this.nextWithin(it, body, reg, what)
        if (r.done === true) break
        total += r.value.length
        this.metrics.upstreamBytes.inc({ registry: reg.def.name }, r.value.length)
        if (total > limit) throw new UpstreamProtocolError(`${reg.def.name}: ${what} is over the ${limit} byte limit`)
        chunks.push(r.value)
      }
    } catch (err) {
      discard(body)
      if (signal?.aborted === true || this.closed) throw new AbortedError(`${what} from ${reg.def.name} aborted`)
      if (isLayerdError(err) && !(err instanceof NoProgressError)) throw err
      throw new RetryableError(`reading ${what} failed: ${errorMessage(err)}`, false, undefined, { cause: err })
    }
    return Buffer.concat(chunks, total)
  }
}

// --- helpers ---

function positive (key: string, value: number | undefined, dflt: number): number {
  const v = value ?? dflt
  if (!Number.isFinite(v) || v <= 0) throw new ConfigError(`${key} must be a positive number`)
  return v
}

function nonNegative (key: string, value: number | undefined, dflt: number): number {
  const v = value ?? dflt
  if (!Number.isFinite(v) || v < 0) throw new ConfigError(`${key} must be a non-negative number`)
  return v
}

function acceptHeader (accept: string[]): string {
  const list = [...new Set(accept.flatMap(a => a.split(',')).map(a => a.trim()).filter(a => a !== ''))]
  return (list.length > 0 ? list : DEFAULT_MANIFEST_ACCEPT).join(', ')
}

/** Create the upstream client. Call close() to release its sockets. */
export function createUpstream (init: UpstreamInit): Upstream {
  return new UpstreamClient(init)
}
