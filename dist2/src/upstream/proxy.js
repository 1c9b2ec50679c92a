// Which upstream requests go through a proxy, decided once at start. The config keys win over the
// environment, each on its own: `upstream.proxy` over https_proxy / HTTPS_PROXY (https:// URLs)
// and http_proxy / HTTP_PROXY (http:// URLs), `upstream.noProxy` over no_proxy / NO_PROXY. The
// lower-case variable wins over the upper-case one, as with curl and undici.
//
// No-proxy entries: `*` (nothing is proxied), a host name (itself and its subdomains; a leading
// `.` or `*.` is ignored), an IP address, a CIDR block (10.0.0.0/8), each optionally with `:PORT`.
// Matching never resolves a name: a proxied host is resolved by the proxy, never by layerd.
//
// A proxy URL may carry credentials (http://user:pass@proxy:3128); they go to the proxy only and
// never into a log line, an error or the status endpoint (`redactProxy`).
import { BlockList, isIP } from 'node:net';
import { ConfigError } from '../errors.js';
/** `scheme://host:port` of a proxy: never its credentials, path or query. */
export function redactProxy(url) {
    return `${url.protocol}//${url.host}`;
}
/** The proxy routes of the settings, the environment filling what the settings leave out. Throws ConfigError. */
export function proxyRoutes(settings, env = process.env) {
    const pick = (...names) => {
        for (const n of names) {
            const v = env[n];
            if (v !== undefined && v.trim() !== '')
                return [n, v.trim()];
        }
        return undefined;
    };
    const fromKey = settings.proxy !== undefined ? ['upstream.proxy', settings.proxy] : undefined;
    const https = parseProxy(fromKey ?? pick('https_proxy', 'HTTPS_PROXY'));
    const http = parseProxy(fromKey ?? pick('http_proxy', 'HTTP_PROXY'));
    const noProxy = settings.noProxy ?? (pick('no_proxy', 'NO_PROXY')?.[1].split(/[,\s]+/) ?? []);
    const entries = noProxy.map(e => e.trim()).filter(e => e !== '');
    const all = entries.includes('*');
    const bypass = entries.filter(e => e !== '*').map(parseBypass);
    const direct = (url) => {
        if (all)
            return true;
        const host = url.hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase();
        const port = url.port !== '' ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
        const ip = isIP(host);
        return bypass.some(b => {
            if (b.port !== undefined && b.port !== port)
                return false;
            if (b.cidr !== undefined)
                return ip !== 0 && b.cidr.check(host, ip === 6 ? 'ipv6' : 'ipv4');
            return host === b.host || host.endsWith(`.${b.host}`);
        });
    };
    const secrets = [https, http].flatMap(u => u === undefined || u.password === '' ? [] : [u.password, safeDecode(u.password)])
        .filter((v, i, a) => a.indexOf(v) === i).sort((a, b) => b.length - a.length);
    return {
        proxyFor: (url) => {
            const proxy = url.protocol === 'https:' ? https : http;
            return proxy === undefined || direct(url) ? undefined : proxy;
        },
        describe: () => ({
            https: https !== undefined ? redactProxy(https) : null,
            http: http !== undefined ? redactProxy(http) : null,
            noProxy: entries
        }),
        scrub: (text) => secrets.reduce((t, secret) => t.split(secret).join('***'), text)
    };
}
function safeDecode(s) {
    try {
        return decodeURIComponent(s);
    }
    catch {
        return s;
    }
}
/** A proxy URL; messages name where it came from, never its value (it may hold a password). */
function parseProxy(source) {
    if (source === undefined)
        return undefined;
    const [name, value] = source;
    let url;
    // `proxy:3128` without a scheme means http://, as curl takes it.
    try {
        url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? value : `http://${value}`);
    }
    catch {
        throw new ConfigError(`${name}: not a valid proxy URL`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
        throw new ConfigError(`${name}: the proxy must be an http:// or https:// URL`);
    if (url.hostname === '')
        throw new ConfigError(`${name}: the proxy URL has no host`);
    return url;
}
function parseBypass(entry) {
    let host = entry.toLowerCase();
    let port;
    const m = /^(.*[^:]):(\d{1,5})$/.exec(host);
    if (m !== null && (isIP(m[1]) !== 6 || host.startsWith('['))) {
        host = m[1];
        port = Number(m[2]);
    }
    host = host.replace(/^\[(.*)\]$/, '$1').replace(/^\*?\./, '');
    const cidr = /^(.+)\/(\d{1,3})$/.exec(host);
    if (cidr !== null && isIP(cidr[1]) !== 0) {
        const list = new BlockList();
        const family = isIP(cidr[1]) === 6 ? 'ipv6' : 'ipv4';
        try {
            list.addSubnet(cidr[1], Number(cidr[2]), family);
        }
        catch {
            throw new ConfigError(`noProxy: invalid CIDR block ${entry}`);
        }
        return { cidr: list, port };
    }
    return { host, port };
}
//# sourceMappingURL=proxy.js.map