// Small HTTP helpers of the upstream client: header reading, Content-Range / Retry-After parsing,
// metric outcomes, URL redaction and the ways to finish a response body (discard, drain, read a
// small one, await the next chunk under the no-progress timer). None of them knows a registry.
export const REDIRECTS = new Set([301, 302, 303, 307, 308]);
/** The first value of a response header (undici lower-cases the names). */
export function header(headers, name) {
    const v = headers[name];
    if (v === undefined)
        return undefined;
    return Array.isArray(v) ? v[0] : v;
}
/** Content-Length when it is a plain safe integer, else undefined. */
export function contentLength(headers) {
    const v = header(headers, 'content-length');
    if (v === undefined || !/^\d+$/.test(v.trim()))
        return undefined;
    const n = Number(v);
    return Number.isSafeInteger(n) ? n : undefined;
}
/** `bytes START-END/SIZE` (SIZE may be `*`); undefined when malformed or inconsistent. */
export function parseContentRange(value) {
    if (value === undefined)
        return undefined;
    const m = /^bytes\s+(\d+)-(\d+)\/(\d+|\*)\s*$/i.exec(value);
    if (m == null)
        return undefined;
    const start = Number(m[1]);
    const end = Number(m[2]);
    const size = m[3] === '*' ? undefined : Number(m[3]);
    if (end < start || (size !== undefined && end >= size))
        return undefined;
    return { start, end, size };
}
/** Retry-After as delay-seconds or an HTTP date, in ms (undefined when absent or unparsable). */
export function parseRetryAfter(value, now = Date.now()) {
    if (value === undefined)
        return undefined;
    const v = value.trim();
    if (/^\d+$/.test(v))
        return Number(v) * 1000;
    const t = Date.parse(v);
    if (Number.isNaN(t))
        return undefined;
    return Math.max(0, t - now);
}
/** The `outcome` label of the upstream request counter for a status. */
export function outcomeOf(status) {
    if (status >= 200 && status < 300)
        return 'ok';
    if (REDIRECTS.has(status))
        return 'redirect';
    if (status === 401)
        return 'unauthorized';
    if (status === 403)
        return 'denied';
    if (status === 404)
        return 'not_found';
    if (status === 416)
        return 'range_invalid';
    if (status === 429)
        return 'rate_limited';
    if (status >= 500)
        return 'server_error';
    return 'client_error';
}
/** Origin and path only: signed CDN query strings stay out of messages. */
export function redact(url) {
    return url.origin + url.pathname;
}
/**
 * Destroy a response body (releasing its socket). undici turns a destroy before the end into an
 * 'error' event; a no-op listener keeps that from becoming an uncaught exception.
 */
export function discard(body, err) {
    if (body.listenerCount('error') === 0)
        body.on('error', () => { });
    body.destroy(err);
}
/** Read and drop a small body so the socket can be reused; give up (and close it) after `timeoutMs`. */
export async function drain(body, timeoutMs = 5000) {
    try {
        await body.dump({ limit: 64 * 1024, signal: AbortSignal.timeout(timeoutMs) });
    }
    catch {
        discard(body);
    }
}
/** Read a small error body as text, at most `limit` bytes and `timeoutMs`. */
export async function readSmall(body, limit = 64 * 1024, timeoutMs = 5000) {
    const chunks = [];
    let total = 0;
    const timer = setTimeout(() => { discard(body); }, timeoutMs);
    try {
        for await (const chunk of body) {
            const b = chunk;
            if (total + b.length > limit) {
                discard(body);
                break;
            }
            chunks.push(b);
            total += b.length;
        }
    }
    catch {
        discard(body);
    }
    finally {
        clearTimeout(timer);
    }
    return Buffer.concat(chunks).toString('utf8');
}
/** The `errors[].code` values of an OCI error body (none when it is not one). */
export function errorCodes(text) {
    try {
        const parsed = JSON.parse(text);
        const errors = parsed?.errors;
        if (!Array.isArray(errors))
            return [];
        return errors.map(e => e?.code).filter((c) => typeof c === 'string');
    }
    catch {
        return [];
    }
}
/**
 * Await the next body chunk; none within `timeoutMs` destroys the body with `stalled()`. The timer
 * runs only while we wait, so a consumer holding a chunk is never taken for a stalled upstream.
 */
export async function nextWithin(it, body, timeoutMs, stalled) {
    const timer = setTimeout(() => { discard(body, stalled()); }, timeoutMs);
    try {
        return await it.next();
    }
    finally {
        clearTimeout(timer);
    }
}
//# sourceMappingURL=http.js.map