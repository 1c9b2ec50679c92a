// The undici dispatchers that carry upstream requests: direct, or through an HTTP(S) proxy — a
// CONNECT tunnel for https://, a proxied request for http:// (proxy.ts decides which, per URL), trusting the system CAs plus the registry's
// own CA bundle (`upstreams.NAME.caFile`). Everything done for a registry — its API, the token
// realm it names, the CDN it redirects blobs to — goes through the dispatchers of that registry's
// CA, so a private CA is trusted exactly where its registry sends us. Registries with the same CA
// (or none) share one keep-alive pool per route.
//
// TLS verification failures are not worth a retry: `tlsFailure` picks them out so the caller can
// answer with a clear error at once.
import { rootCertificates } from 'node:tls';
import { Agent, Pool, ProxyAgent } from 'undici';
import { errorMessage } from '../errors.js';
import { redactProxy } from './proxy.js';
export function createDispatchers(init) {
    const pools = new Map();
    const common = {
        headersTimeout: init.headersTimeoutMs,
        bodyTimeout: 0, // our own no-progress timer, which does not count time the consumer holds a chunk
        keepAliveTimeout: init.keepAliveTimeoutMs,
        keepAliveMaxTimeout: Math.max(init.keepAliveTimeoutMs, 600_000)
    };
    const make = (ca, proxy) => {
        const tls = { timeout: init.connectTimeoutMs, ...(ca !== undefined ? { ca } : {}) };
        if (proxy === undefined)
            return new Agent({ ...common, connect: tls });
        return new ProxyAgent({
            ...common,
            uri: proxy.href, // undici sends its credentials as Proxy-Authorization, to the proxy only
            // https:// upstreams go through a CONNECT tunnel; http:// ones as plain proxied requests
            // (absolute URL), which proxies allow where they allow CONNECT to port 443 only.
            proxyTunnel: false,
            requestTls: tls, // the registry's TLS, inside the tunnel
            proxyTls: tls, // an https:// proxy
            // A proxy that accepts the connection but never answers CONNECT must not hang us.
            clientFactory: (origin, opts) => new Pool(origin, { ...opts, headersTimeout: init.headersTimeoutMs })
        });
    };
    return {
        pick(ca, url) {
            const proxy = init.routes.proxyFor(url);
            const key = `${proxy?.href ?? ''}\n${ca ?? ''}`;
            let d = pools.get(key);
            if (d === undefined) {
                d = make(ca !== undefined ? [...rootCertificates, ca] : undefined, proxy);
                pools.set(key, d);
            }
            return proxy === undefined ? { dispatcher: d } : { dispatcher: d, via: redactProxy(proxy) };
        },
        scrub: init.routes.scrub,
        async destroy() {
            await Promise.all([...pools.values()].map(async (d) => { await d.destroy(); }));
            pools.clear();
        }
    };
}
/** OpenSSL's and Node's codes for a certificate we could not verify. */
const TLS_CODES = new Set([
    'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
    'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID',
    'CERT_UNTRUSTED', 'CERT_REJECTED', 'CERT_REVOKED', 'CERT_SIGNATURE_FAILURE', 'INVALID_CA',
    'ERR_TLS_CERT_ALTNAME_INVALID', 'HOSTNAME_MISMATCH'
]);
/** `reason (CODE)` when `err` (or its cause: undici wraps some) is a failed certificate check. */
export function tlsFailure(err) {
    for (let e = err, depth = 0; e != null && depth < 4; e = e.cause, depth++) {
        if (typeof e.code === 'string' && TLS_CODES.has(e.code))
            return `${errorMessage(e)} (${e.code})`;
    }
    return undefined;
}
/**
 * The proxy's status when it refused the request: undici says "Proxy response (403) !== 200 when
 * HTTP Tunneling" for a tunnel, "Proxy Authentication Required (407)" for a proxied http:// request.
 */
export function proxyRefusal(err) {
    const m = /Proxy (?:response|Authentication Required) \((\d{3})\)/.exec(errorMessage(err));
    return m !== null ? Number(m[1]) : undefined;
}
//# sourceMappingURL=dispatch.js.map