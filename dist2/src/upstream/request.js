// One authenticated exchange with a registry: send the credentials we already know, answer one
// 401 challenge (auth.ts does the token work), follow redirects by hand, and turn a status that
// is not a success into the right typed error.
//
// Redirects are followed here, not by undici, because of what may cross them: Range always does
// (a CDN must serve the same bytes), Authorization only to the registry's own origin (a CDN must
// never see the registry token), and an https → http hop is refused. Messages carry at most a
// URL's origin and path: signed CDN query strings are secrets too. Every hop goes through the
// registry's dispatcher (dispatch.ts: its CA, the proxy for that URL).
import { request as send } from 'undici';
import { AbortedError, BlobUnknownError, DeniedError, ManifestUnknownError, NameUnknownError, RangeInvalidError, UnauthorizedError, UpstreamProtocolError, UpstreamTlsError, UpstreamUnavailableError, errorMessage } from '../errors.js';
import { proxyRefusal, tlsFailure } from './dispatch.js';
import { REDIRECTS, discard, drain, errorCodes, header, outcomeOf, parseRetryAfter, readSmall, redact } from './http.js';
import { RetryableError } from './retry.js';
/** One request with auth: sends known credentials, answers one 401 challenge, follows redirects. */
export async function exchange(deps, reg, req) {
    let auth = await authCall(deps, reg, req, async () => await deps.auth.authorization(reg.def, req.scope, req.signal));
    for (let round = 0;; round++) {
        const out = await follow(deps, reg, req, new URL(reg.base + req.path), auth);
        if (out.res.statusCode !== 401)
            return out;
        const challenge = out.res.headers['www-authenticate'];
        await drain(out.res.body);
        if (round >= 1) {
            throw new UnauthorizedError(`registry ${reg.def.name} refused ${reg.def.credentials != null ? 'the configured credentials' : 'anonymous access'} for ${req.scope} (HTTP 401)`);
        }
        const sent = auth;
        auth = await authCall(deps, reg, req, async () => await deps.auth.respond(reg.def, req.scope, challenge, sent, req.signal));
    }
}
/** A token service that is down is as retryable as the registry being down. */
async function authCall(deps, reg, req, fn) {
    try {
        return await fn();
    }
    catch (err) {
        if (req.signal?.aborted === true || deps.closed())
            throw new AbortedError(`request to ${reg.def.name} aborted`);
        if (err instanceof UpstreamUnavailableError)
            throw new RetryableError(err.message, false, undefined, { cause: err });
        throw err;
    }
}
/** Send a request and follow redirects by hand; Authorization only ever goes to the registry's origin. */
async function follow(deps, reg, req, start, auth) {
    let url = start;
    let method = req.method;
    const seen = new Set([url.href]);
    for (let hop = 0;; hop++) {
        const headers = { ...req.headers, 'user-agent': deps.userAgent };
        if (auth !== undefined && url.origin === reg.origin)
            headers.authorization = auth;
        let res;
        const route = deps.dispatch.pick(reg.def.ca, url);
        try {
            // bodyTimeout 0: the no-progress timer watches bodies, and does not count time the consumer holds a chunk.
            res = await send(url, { dispatcher: route.dispatcher, method, headers, signal: req.signal, headersTimeout: deps.headersTimeoutMs, bodyTimeout: 0 });
        }
        catch (err) {
            if (req.signal?.aborted === true || deps.closed()) {
                deps.count(reg, 'aborted');
                throw new AbortedError(`${method} ${redact(url)} on ${reg.def.name} aborted`);
            }
            throw noResponse(deps, reg, `${method} ${redact(url)}`, route, err);
        }
        const status = res.statusCode;
        deps.count(reg, outcomeOf(status));
        if (!REDIRECTS.has(status))
            return { res, url };
        const location = header(res.headers, 'location');
        await drain(res.body);
        const proto = (msg) => new UpstreamProtocolError(`${reg.def.name}: ${method} ${redact(start)}: ${msg}`);
        if (location === undefined || location === '')
            throw proto(`HTTP ${status} redirect without Location`);
        let next;
        try {
            next = new URL(location, url);
        }
        catch {
            throw proto(`HTTP ${status} redirect to an invalid Location`);
        }
        if (next.protocol !== 'http:' && next.protocol !== 'https:')
            throw proto(`redirect to unsupported scheme ${next.protocol}`);
        if (url.protocol === 'https:' && next.protocol === 'http:')
            throw proto(`refusing redirect from https to http (${redact(next)})`);
        if (seen.has(next.href))
            throw proto(`redirect loop at ${redact(next)}`);
        if (hop + 1 > deps.maxRedirects)
            throw proto(`more than ${deps.maxRedirects} redirects`);
        seen.add(next.href);
        if (status === 303 && method !== 'HEAD')
            method = 'GET';
        url = next;
    }
}
/**
 * The error for a request that got no response: a certificate that does not verify and a proxy
 * that wants credentials are answers (not retried); anything else is a retryable network failure.
 */
function noResponse(deps, reg, what, route, err) {
    const name = reg.def.name;
    const where = route.via !== undefined ? `${what} via proxy ${route.via}` : what;
    const tls = tlsFailure(err);
    if (tls !== undefined) {
        deps.count(reg, 'tls_error');
        const hint = reg.def.ca === undefined ? `; if it uses a private CA, set upstreams.${name}.caFile` : ` (with upstreams.${name}.caFile)`;
        return new UpstreamTlsError(deps.dispatch.scrub(`${name}: ${where}: upstream TLS verification failed: ${tls}${hint}`), { cause: err });
    }
    const refused = proxyRefusal(err);
    if (refused !== undefined) {
        deps.count(reg, 'proxy_error');
        if (refused === 407)
            return new UpstreamUnavailableError(`${name}: ${where}: the proxy requires authentication (HTTP 407): check user:password in the proxy URL`);
        return new RetryableError(`${where}: the proxy refused the tunnel (HTTP ${refused})`, false);
    }
    const code = err.code;
    deps.count(reg, code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT' ? 'timeout' : 'network_error');
    return new RetryableError(deps.dispatch.scrub(`${where} failed: ${errorMessage(err)}${typeof code === 'string' ? ` (${code})` : ''}`), false, undefined, { cause: err });
}
/** Turn a non-success status into the right error (always throws); 429 and 5xx are retryable. */
export async function failStatus(reg, res, kind, what) {
    const status = res.statusCode;
    const name = reg.def.name;
    if (status === 404 && kind === 'manifest') {
        const text = await readSmall(res.body);
        if (errorCodes(text).includes('NAME_UNKNOWN'))
            throw new NameUnknownError(`${name}: repository of ${what} is unknown`);
        throw new ManifestUnknownError(`${name}: manifest ${what} is unknown`);
    }
    if (status === 416) {
        discard(res.body); // docker-registry sends a wrong Content-Length on 416: never wait for that body
        const m = /^bytes\s+\*\/(\d+)\s*$/i.exec(header(res.headers, 'content-range') ?? '');
        throw new RangeInvalidError(`${name}: range not satisfiable for ${kind} ${what}`, m != null ? Number(m[1]) : undefined);
    }
    await drain(res.body);
    if (status === 404)
        throw new BlobUnknownError(`${name}: blob ${what} is unknown`);
    if (status === 403)
        throw new DeniedError(`${name}: access to ${kind} ${what} denied (HTTP 403)`);
    if (status === 429 || status >= 500) {
        throw new RetryableError(`HTTP ${status}`, status === 429, parseRetryAfter(header(res.headers, 'retry-after')));
    }
    throw new UpstreamProtocolError(`${name}: ${kind} ${what}: unexpected HTTP ${status}`);
}
//# sourceMappingURL=request.js.map