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
import { DEFAULTS } from '../config/defaults.js';
import { AbortedError, ConfigError, UpstreamProtocolError } from '../errors.js';
import { parseDigest, parseName, parseReference } from '../oci/reference.js';
import { TokenBucket } from '../util/token-bucket.js';
import { createAuthenticator, pullScope } from './auth.js';
import { fetchBlobBody } from './blob-body.js';
import { createDispatchers } from './dispatch.js';
import { contentLength, drain } from './http.js';
import { getManifest, headManifest } from './manifests.js';
import { proxyRoutes } from './proxy.js';
import { createRegistries } from './registries.js';
import { exchange, failStatus } from './request.js';
import { withRetry } from './retry.js';
export { parseContentRange, parseRetryAfter } from './http.js';
const D = DEFAULTS.upstream;
class UpstreamClient {
    regs;
    dispatch;
    auth;
    deps;
    closed = false;
    constructor(init) {
        const log = init.logger.child({ component: 'upstream' });
        const connectTimeoutMs = positive('connectTimeoutMs', init.connectTimeoutMs, D.connectTimeoutMs);
        const headersTimeoutMs = positive('headersTimeoutMs', init.headersTimeoutMs, D.headersTimeoutMs);
        const noProgressTimeoutMs = positive('noProgressTimeoutMs', init.noProgressTimeoutMs, D.noProgressTimeoutMs);
        const maxAttempts = Math.floor(positive('maxAttempts', init.maxAttempts, D.maxAttempts));
        const backoffBaseMs = nonNegative('backoffBaseMs', init.backoffBaseMs, D.backoffBaseMs);
        const backoffMaxMs = nonNegative('backoffMaxMs', init.backoffMaxMs, D.backoffMaxMs);
        const retryAfterMaxMs = nonNegative('retryAfterMaxMs', init.retryAfterMaxMs, backoffMaxMs);
        const retry = { maxAttempts, backoffBaseMs, backoffMaxMs, retryAfterMaxMs };
        const maxRedirects = Math.floor(nonNegative('maxRedirects', init.maxRedirects, D.maxRedirects));
        const maxManifestBytes = positive('maxManifestBytes', init.maxManifestBytes, D.maxManifestBytes);
        const userAgent = init.userAgent ?? D.userAgent;
        this.regs = createRegistries(init.registries, {
            threshold: Math.floor(positive('breakerThreshold', init.breakerThreshold, D.breakerThreshold)),
            openMs: nonNegative('breakerOpenMs', init.breakerOpenMs, D.breakerOpenMs)
        });
        const keepAliveTimeoutMs = positive('keepAliveTimeoutMs', init.keepAliveTimeoutMs, D.keepAliveTimeoutMs);
        const bytesPerSecond = nonNegative('bytesPerSecond', init.bytesPerSecond, D.bytesPerSecond);
        const dispatch = createDispatchers({ routes: init.proxy ?? proxyRoutes({}), connectTimeoutMs, headersTimeoutMs, keepAliveTimeoutMs });
        this.dispatch = dispatch;
        this.auth = createAuthenticator({
            dispatcher: (registry, url) => dispatch.pick(registry.ca, url).dispatcher,
            scrub: dispatch.scrub,
            logger: log,
            userAgent,
            headersTimeoutMs,
            bodyTimeoutMs: noProgressTimeoutMs,
            tokenExpiryMarginMs: init.tokenExpiryMarginMs ?? D.tokenExpiryMarginMs
        });
        const metrics = init.metrics;
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
            checkOpen: (signal) => { this.checkOpen(signal); },
            count: (reg, outcome) => { metrics.upstreamRequests.inc({ registry: reg.def.name, outcome }); },
            rateLimited: (registry, untilMs) => {
                for (const fn of this.rateListeners)
                    fn(registry, untilMs);
            }
        };
    }
    rateListeners = new Set();
    /** Hear when a registry rate-limits us (the office is told, src/p2p/backoff.ts). */
    onRateLimited(fn) {
        this.rateListeners.add(fn);
        return () => { this.rateListeners.delete(fn); };
    }
    pause(registry, untilMs) {
        const reg = this.regs.get(registry);
        // Within a second of what we have: the same notice again (it reaches us by several paths).
        if (untilMs <= reg.pausedUntil + 1000)
            return false;
        reg.pausedUntil = untilMs;
        this.deps.log.warn({ registry, seconds: Math.ceil((untilMs - Date.now()) / 1000) }, 'a neighbour was rate-limited by this registry: backing off with it');
        return true;
    }
    registry(name) {
        return this.regs.get(name).def;
    }
    isCredentialed(name) {
        return this.regs.get(name).def.credentials != null;
    }
    async getManifest(registry, repository, reference, accept, signal) {
        const reg = this.target(registry, repository, () => parseReference(reference), signal);
        return await getManifest(this.deps, reg, repository, reference, accept, signal);
    }
    async headManifest(registry, repository, reference, accept, signal) {
        const reg = this.target(registry, repository, () => parseReference(reference), signal);
        return await headManifest(this.deps, reg, repository, reference, accept, signal);
    }
    async statBlob(registry, repository, digest, signal) {
        const reg = this.target(registry, repository, () => parseDigest(digest), signal);
        return await withRetry(this.deps, reg, `HEAD blob ${repository}@${digest}`, signal, { failures: 0 }, async () => {
            const { res } = await exchange(this.deps, reg, { method: 'HEAD', path: `/v2/${repository}/blobs/${digest}`, headers: {}, scope: pullScope(repository), signal });
            if (res.statusCode !== 200)
                return await failStatus(reg, res, 'blob', `${repository}@${digest}`);
            await drain(res.body);
            const size = contentLength(res.headers);
            if (size === undefined)
                throw new UpstreamProtocolError(`${reg.def.name}: HEAD blob ${repository}@${digest} has no Content-Length`);
            return { size };
        });
    }
    async fetchBlob(registry, repository, digest, opts) {
        const reg = this.regs.get(registry);
        parseName(repository);
        parseDigest(digest);
        return await fetchBlobBody(this.deps, reg, repository, digest, opts); // checks the range, then checkOpen
    }
    async close() {
        if (this.closed)
            return;
        this.closed = true;
        this.auth.clear();
        await this.dispatch.destroy();
    }
    /** The registry of a call, after its input is checked (NameInvalidError, DigestInvalidError) and we are open. */
    target(registry, repository, checkRef, signal) {
        const reg = this.regs.get(registry);
        parseName(repository);
        checkRef();
        this.checkOpen(signal);
        return reg;
    }
    checkOpen(signal) {
        if (this.closed)
            throw new AbortedError('upstream client closed');
        if (signal?.aborted === true)
            throw new AbortedError('aborted before the upstream request started');
    }
}
function positive(key, value, dflt) {
    const v = value ?? dflt;
    if (!Number.isFinite(v) || v <= 0)
        throw new ConfigError(`${key} must be a positive number`);
    return v;
}
function nonNegative(key, value, dflt) {
    const v = value ?? dflt;
    if (!Number.isFinite(v) || v < 0)
        throw new ConfigError(`${key} must be a non-negative number`);
    return v;
}
/** Create the upstream client. Call close() to release its sockets. */
export function createUpstream(init) {
    return new UpstreamClient(init);
}
//# sourceMappingURL=client.js.map