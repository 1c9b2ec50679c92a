// The upstream registry client: manifests and blobs from remote OCI registries over pooled
// keep-alive undici dispatchers (direct or through a proxy, each registry's CA trusted), with Bearer/Basic auth, redirects followed by hand (Docker Hub sends blobs
// to a CDN), bounded retries with backoff + full jitter and Retry-After, a per-registry circuit
// breaker, and transparently resumed blob transfers (Range: bytes=<next>- with a strong-ETag check
// and a no-progress timeout).
//
// This file is the facade: it checks the init and the input of each call, and wires the parts:
// registries.ts (the registry table and breakers), dispatch.ts + proxy.ts (which dispatcher and
// proxy carry a request), request.ts (one authenticated exchange), retry.ts (the retry policy),
// manifests.ts, blob-body.ts (the resumable, rate-capped body) and http.ts.
//
// Secrets (passwords, tokens, Authorization headers, signed CDN query strings) never appear in logs
// or error messages: messages name the registry, the repository, the digest and at most a URL's
// origin and path.

import { DEFAULTS } from '../config/defaults.js'
import { AbortedError, ConfigError, UpstreamProtocolError } from '../errors.js'
import type { Logger } from '../log.js'
import type { Metrics } from '../metrics/metrics.js'
import { parseDigest, parseName, parseReference } from '../oci/reference.js'
import { TokenBucket } from '../util/token-bucket.js'
import { createAuthenticator, pullScope, type Authenticator } from './auth.js'
import { fetchBlobBody, type BlobDeps } from './blob-body.js'
import { createDispatchers, type Dispatchers } from './dispatch.js'
import { contentLength, drain } from './http.js'
import { getManifest, headManifest, type ManifestDeps } from './manifests.js'
import { proxyRoutes, type ProxyRoutes } from './proxy.js'
import { createRegistries, type Reg, type Registries } from './registries.js'
import { exchange, failStatus } from './request.js'
import { withRetry, type RetryOptions } from './retry.js'
import type { BlobFetchOptions, BlobStream, ManifestHead, ManifestResult, Upstream, UpstreamRegistry } from './types.js'

export { parseContentRange, parseRetryAfter } from './http.js'

const D = DEFAULTS.upstream

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
  /** Which requests go through which proxy (proxy.ts). Default: `proxyRoutes({})`, the environment's. */
  proxy?: ProxyRoutes
  /** Cap on upstream blob body bytes per second, all registries together (0 = none). Default 0. */
  bytesPerSecond?: number
}

/** What the parts need from the client: every *Deps interface of manifests.ts and blob-body.ts. */
type Deps = ManifestDeps & BlobDeps

class UpstreamClient implements Upstream {
  private readonly regs: Registries
  private readonly dispatch: Dispatchers
  private readonly auth: Authenticator
  private readonly deps: Deps
  private closed = false

  constructor (init: UpstreamInit) {
    const log = init.logger.child({ component: 'upstream' })
    const connectTimeoutMs = positive('connectTimeoutMs', init.connectTimeoutMs, D.connectTimeoutMs)
    const headersTimeoutMs = positive('headersTimeoutMs', init.headersTimeoutMs, D.headersTimeoutMs)
    const noProgressTimeoutMs = positive('noProgressTimeoutMs', init.noProgressTimeoutMs, D.noProgressTimeoutMs)
    const maxAttempts = Math.floor(positive('maxAttempts', init.maxAttempts, D.maxAttempts))
    const backoffBaseMs = nonNegative('backoffBaseMs', init.backoffBaseMs, D.backoffBaseMs)
    const backoffMaxMs = nonNegative('backoffMaxMs', init.backoffMaxMs, D.backoffMaxMs)
    const retryAfterMaxMs = nonNegative('retryAfterMaxMs', init.retryAfterMaxMs, backoffMaxMs)
    const retry: RetryOptions = { maxAttempts, backoffBaseMs, backoffMaxMs, retryAfterMaxMs }
    const maxRedirects = Math.floor(nonNegative('maxRedirects', init.maxRedirects, D.maxRedirects))
    const maxManifestBytes = positive('maxManifestBytes', init.maxManifestBytes, D.maxManifestBytes)
    const userAgent = init.userAgent ?? D.userAgent
    this.regs = createRegistries(init.registries, {
      threshold: Math.floor(positive('breakerThreshold', init.breakerThreshold, D.breakerThreshold)),
      openMs: nonNegative('breakerOpenMs', init.breakerOpenMs, D.breakerOpenMs)
    })

    const keepAliveTimeoutMs = positive('keepAliveTimeoutMs', init.keepAliveTimeoutMs, D.keepAliveTimeoutMs)
    const bytesPerSecond = nonNegative('bytesPerSecond', init.bytesPerSecond, D.bytesPerSecond)
    const dispatch = createDispatchers({ routes: init.proxy ?? proxyRoutes({}), connectTimeoutMs, headersTimeoutMs, keepAliveTimeoutMs })
    this.dispatch = dispatch
    this.auth = createAuthenticator({
      dispatcher: (registry, url) => dispatch.pick(registry.ca, url).dispatcher,
      scrub: dispatch.scrub,
      logger: log,
      userAgent,
      headersTimeoutMs,
      bodyTimeoutMs: noProgressTimeoutMs,
      tokenExpiryMarginMs: init.tokenExpiryMarginMs ?? D.tokenExpiryMarginMs
    })
    const metrics = init.metrics
    this.deps = {
      dispatch,
      auth: this.auth,
      metrics,
      log,
      userAgent,
      headersTimeoutMs,
      noProgressTimeoutMs,
      maxRedirects,
      maxManifestBytes,
      rate: bytesPerSecond > 0 ? new TokenBucket(bytesPerSecond) : undefined,
      retry,
      closed: () => this.closed,
      checkOpen: (signal?: AbortSignal) => { this.checkOpen(signal) },
      count: (reg: Reg, outcome: string) => { metrics.upstreamRequests.inc({ registry: reg.def.name, outcome }) },
      rateLimited: (registry: string, untilMs: number) => {
        for (const fn of this.rateListeners) fn(registry, untilMs)
      }
    }
  }

  private readonly rateListeners = new Set<(registry: string, untilMs: number) => void>()

  /** Hear when a registry rate-limits us (the office is told, src/p2p/backoff.ts). */
  onRateLimited (fn: (registry: string, untilMs: number) => void): () => void {
    this.rateListeners.add(fn)
    return () => { this.rateListeners.delete(fn) }
  }

  pause (registry: string, untilMs: number): boolean {
    const reg = this.regs.get(registry)
    // Within a second of what we have: the same notice again (it reaches us by several paths).
    if (untilMs <= reg.pausedUntil + 1000) return false
    reg.pausedUntil = untilMs
    this.deps.log.warn({ registry, seconds: Math.ceil((untilMs - Date.now()) / 1000) }, 'a neighbour was rate-limited by this registry: backing off with it')
    return true
  }

  registry (name: string): UpstreamRegistry {
    return this.regs.get(name).def
  }

  isCredentialed (name: string): boolean {
    return this.regs.get(name).def.credentials != null
  }

  async getManifest (registry: string, repository: string, reference: string, accept: string[], signal?: AbortSignal): Promise<ManifestResult> {
    const reg = this.target(registry, repository, () => parseReference(reference), signal)
    return await getManifest(this.deps, reg, repository, reference, accept, signal)
  }

  async headManifest (registry: string, repository: string, reference: string, accept: string[], signal?: AbortSignal): Promise<ManifestHead> {
    const reg = this.target(registry, repository, () => parseReference(reference), signal)
    return await headManifest(this.deps, reg, repository, reference, accept, signal)
  }

  async statBlob (registry: string, repository: string, digest: string, signal?: AbortSignal): Promise<{ size: number }> {
    const reg = this.target(registry, repository, () => parseDigest(digest), signal)
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
    return await fetchBlobBody(this.deps, reg, repository, digest, opts) // checks the range, then checkOpen
  }

  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.auth.clear()
    await this.dispatch.destroy()
  }

  /** The registry of a call, after its input is checked (NameInvalidError, DigestInvalidError) and we are open. */
  private target (registry: string, repository: string, checkRef: () => unknown, signal: AbortSignal | undefined): Reg {
    const reg = this.regs.get(registry)
    parseName(repository)
    checkRef()
    this.checkOpen(signal)
    return reg
  }

  private checkOpen (signal?: AbortSignal): void {
    if (this.closed) throw new AbortedError('upstream client closed')
    if (signal?.aborted === true) throw new AbortedError('aborted before the upstream request started')
  }
}

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

/** Create the upstream client. Call close() to release its sockets. */
export function createUpstream (init: UpstreamInit): Upstream {
  return new UpstreamClient(init)
}
