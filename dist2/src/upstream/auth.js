// Registry authentication: the Docker/OCI Bearer token flow and HTTP Basic.
//
// Bearer: on a 401 with `WWW-Authenticate: Bearer realm=...,service=...`, GET
// `realm?service=SERVICE&scope=repository:NAME:pull` (with HTTP Basic credentials when the registry
// has some, anonymously otherwise), take `token` or `access_token`, and cache it per
// registry + scope until `expires_in` (default 60 s) minus a margin. Concurrent requests for the
// same scope share one token fetch. Once a registry has challenged with Bearer, tokens for new
// scopes are fetched up front (saving the 401 round trip).
// Basic: once a registry has challenged with Basic, every request carries the credentials.
//
// Tokens and passwords never appear in logs or error messages.
import { request } from 'undici';
import { DEFAULTS } from '../config/defaults.js';
import { DeniedError, UnauthorizedError, UpstreamProtocolError, UpstreamTlsError, UpstreamUnavailableError, errorMessage, isLayerdError } from '../errors.js';
import { findChallenge, parseChallenges } from './challenge.js';
import { tlsFailure } from './dispatch.js';
/** `repository:NAME:pull`, the scope a pull mirror asks for. */
export function pullScope(repository) {
    return `repository:${repository}:pull`;
}
export function basicAuthorization(username, password) {
    return 'Basic ' + Buffer.from(`${username}:${password}`, 'utf8').toString('base64');
}
class TokenAuthenticator {
    dispatcher;
    scrub;
    log;
    userAgent;
    headersTimeoutMs;
    bodyTimeoutMs;
    defaultTtlSec;
    marginMs;
    maxBytes;
    now;
    tokens = new Map();
    inflight = new Map();
    schemes = new Map();
    constructor(init) {
        this.dispatcher = init.dispatcher;
        this.scrub = init.scrub ?? ((t) => t);
        this.log = init.logger;
        this.userAgent = init.userAgent ?? 'layerd';
        this.headersTimeoutMs = init.headersTimeoutMs ?? DEFAULTS.upstream.headersTimeoutMs;
        this.bodyTimeoutMs = init.bodyTimeoutMs ?? DEFAULTS.upstream.noProgressTimeoutMs;
        this.defaultTtlSec = init.defaultTokenTtlSec ?? 60;
        this.marginMs = init.tokenExpiryMarginMs ?? DEFAULTS.upstream.tokenExpiryMarginMs;
        this.maxBytes = init.maxTokenResponseBytes ?? 1024 * 1024;
        this.now = init.now ?? Date.now;
    }
    async authorization(registry, scope, signal) {
        const scheme = this.schemes.get(registry.name);
        if (scheme == null)
            return undefined;
        if (scheme.kind === 'basic') {
            return registry.credentials != null ? basicAuthorization(registry.credentials.username, registry.credentials.password) : undefined;
        }
        const cached = this.cached(registry, scope);
        if (cached != null)
            return cached;
        return await this.token(registry, scope, scheme.params, signal);
    }
    async respond(registry, scope, wwwAuthenticate, sent, signal) {
        const challenges = parseChallenges(wwwAuthenticate);
        const bearer = findChallenge(challenges, 'bearer');
        if (bearer != null) {
            const realm = bearer.params.realm;
            if (realm == null || realm === '')
                throw new UnauthorizedError(`registry ${registry.name} sent a Bearer challenge without a realm`);
            let realmUrl;
            try {
                realmUrl = new URL(realm);
            }
            catch {
                throw new UnauthorizedError(`registry ${registry.name} sent a Bearer challenge with an invalid realm`);
            }
            if (realmUrl.protocol !== 'https:' && realmUrl.protocol !== 'http:')
                throw new UnauthorizedError(`registry ${registry.name} sent a Bearer realm that is not http(s)`);
            const params = { realm, service: bearer.params.service };
            this.schemes.set(registry.name, { kind: 'bearer', params });
            const key = cacheKey(registry, scope);
            const cached = this.tokens.get(key);
            // Drop the token that was rejected; keep a fresher one another request already obtained.
            if (cached != null && (sent === undefined || cached.header === sent))
                this.tokens.delete(key);
            const fresh = this.cached(registry, scope);
            if (fresh != null && fresh !== sent)
                return fresh;
            return await this.token(registry, scope, params, signal);
        }
        const basic = findChallenge(challenges, 'basic');
        if (basic != null) {
            this.schemes.set(registry.name, { kind: 'basic' });
            if (registry.credentials == null)
                throw new UnauthorizedError(`registry ${registry.name} requires credentials (Basic) and none are configured`);
            return basicAuthorization(registry.credentials.username, registry.credentials.password);
        }
        const names = challenges.map(c => c.scheme).join(', ');
        throw new UnauthorizedError(`registry ${registry.name} answered 401 without a usable challenge${names !== '' ? ` (schemes: ${names})` : ''}`);
    }
    clear() {
        this.tokens.clear();
        this.schemes.clear();
    }
    cached(registry, scope) {
        const key = cacheKey(registry, scope);
        const entry = this.tokens.get(key);
        if (entry == null)
            return undefined;
        if (this.now() >= entry.expiresAt) {
            this.tokens.delete(key);
            return undefined;
        }
        return entry.header;
    }
    /** A token for the scope, sharing one fetch among concurrent callers; each caller can abort its own wait. */
    async token(registry, scope, params, signal) {
        const key = cacheKey(registry, scope);
        let pending = this.inflight.get(key);
        if (pending == null) {
            pending = this.fetchToken(registry, scope, params).finally(() => { this.inflight.delete(key); });
            pending.catch(() => { }); // every waiter may have aborted: never an unhandled rejection
            this.inflight.set(key, pending);
        }
        return await raceAbort(pending, signal);
    }
    async fetchToken(registry, scope, params) {
        const url = new URL(params.realm);
        if (params.service != null && params.service !== '')
            url.searchParams.set('service', params.service);
        url.searchParams.set('scope', scope);
        const headers = { accept: 'application/json', 'user-agent': this.userAgent };
        if (registry.credentials != null)
            headers.authorization = basicAuthorization(registry.credentials.username, registry.credentials.password);
        const where = `token service ${url.origin}${url.pathname} for registry ${registry.name}`;
        let res;
        try {
            res = await request(url, { dispatcher: this.dispatcher(registry, url), method: 'GET', headers, headersTimeout: this.headersTimeoutMs, bodyTimeout: this.bodyTimeoutMs });
        }
        catch (err) {
            const tls = tlsFailure(err);
            if (tls !== undefined)
                throw new UpstreamTlsError(this.scrub(`${where}: TLS verification failed: ${tls}`), { cause: err });
            throw new UpstreamUnavailableError(this.scrub(`${where} is unreachable: ${errorMessage(err)}`), { cause: err });
        }
        const status = res.statusCode;
        if (status !== 200) {
            await res.body.dump({ limit: 64 * 1024 }).catch(() => { });
            if (status === 401)
                throw new UnauthorizedError(`${where} rejected the ${registry.credentials != null ? 'credentials' : 'anonymous request'} (HTTP 401)`);
            if (status === 403)
                throw new DeniedError(`${where} denied ${scope} (HTTP 403)`);
            if (status === 429 || status >= 500)
                throw new UpstreamUnavailableError(`${where} failed (HTTP ${status})`);
            throw new UnauthorizedError(`${where} answered HTTP ${status}`);
        }
        let text;
        try {
            const len = Number(res.headers['content-length']);
            if (Number.isFinite(len) && len > this.maxBytes)
                throw new UpstreamProtocolError(`${where}: token response too large (${len} bytes)`);
            const chunks = [];
            let total = 0;
            for await (const chunk of res.body) {
                total += chunk.length;
                if (total > this.maxBytes)
                    throw new UpstreamProtocolError(`${where}: token response too large`);
                chunks.push(chunk);
            }
            text = Buffer.concat(chunks).toString('utf8');
        }
        catch (err) {
            res.body.on('error', () => { });
            res.body.destroy();
            if (isLayerdError(err))
                throw err;
            throw new UpstreamUnavailableError(`${where}: reading the token response failed: ${errorMessage(err)}`, { cause: err });
        }
        let parsed;
        try {
            parsed = JSON.parse(text);
        }
        catch {
            throw new UpstreamProtocolError(`${where}: token response is not JSON`);
        }
        const obj = (parsed != null && typeof parsed === 'object') ? parsed : {};
        const token = typeof obj.token === 'string' && obj.token !== '' ? obj.token : typeof obj.access_token === 'string' && obj.access_token !== '' ? obj.access_token : undefined;
        if (token == null)
            throw new UpstreamProtocolError(`${where}: token response has neither token nor access_token`);
        const ttlSec = typeof obj.expires_in === 'number' && Number.isFinite(obj.expires_in) && obj.expires_in > 0 ? obj.expires_in : this.defaultTtlSec;
        const ttlMs = ttlSec * 1000;
        const margin = Math.min(this.marginMs, ttlMs / 2);
        const header = `Bearer ${token}`;
        this.prune();
        this.tokens.set(cacheKey(registry, scope), { header, expiresAt: this.now() + ttlMs - margin });
        this.log.debug({ registry: registry.name, scope, expiresInSec: ttlSec, credentialed: registry.credentials != null }, 'upstream token obtained');
        return header;
    }
    prune() {
        if (this.tokens.size < 1000)
            return;
        const now = this.now();
        for (const [key, entry] of this.tokens)
            if (now >= entry.expiresAt)
                this.tokens.delete(key);
    }
}
function cacheKey(registry, scope) {
    return `${registry.name}\n${scope}`;
}
async function raceAbort(promise, signal) {
    if (signal == null)
        return await promise;
    signal.throwIfAborted();
    return await new Promise((resolve, reject) => {
        const onAbort = () => { reject(signal.reason); };
        signal.addEventListener('abort', onAbort, { once: true });
        promise.then(resolve, reject).finally(() => { signal.removeEventListener('abort', onAbort); });
    });
}
export function createAuthenticator(init) {
    return new TokenAuthenticator(init);
}
//# sourceMappingURL=auth.js.map