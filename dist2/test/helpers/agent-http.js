// Small HTTP utilities for the agent integration tests: raw requests (the path is sent exactly as
// given, never URL-normalized), streaming sha256 of bodies, client-side disconnects, Prometheus
// text parsing and config files.
import { request as httpRequest } from 'node:http';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { blobPath } from './images.js';
/** One HTTP/1.1 request with the path sent byte for byte (no `..` resolution). Never rejects on HTTP errors. */
export async function rawRequest(baseUrl, path, opts = {}) {
    const u = new URL(baseUrl);
    const keep = opts.keepBody ?? true;
    return await new Promise((resolve, reject) => {
        const req = httpRequest({
            host: u.hostname,
            port: u.port,
            method: opts.method ?? 'GET',
            path,
            headers: { connection: 'close', ...opts.headers },
            agent: false,
        });
        const timer = setTimeout(() => req.destroy(new Error(`timeout after ${opts.timeoutMs ?? 120_000} ms`)), opts.timeoutMs ?? 120_000);
        req.once('error', (err) => { clearTimeout(timer); reject(err); });
        req.once('response', (res) => {
            const hash = createHash('sha256');
            const chunks = [];
            let bytes = 0;
            let settled = false;
            let abortedByUs = false;
            const finish = (error) => {
                if (settled)
                    return;
                settled = true;
                clearTimeout(timer);
                resolve({ status: res.statusCode ?? 0, headers: res.headers, body: keep ? Buffer.concat(chunks) : Buffer.alloc(0), bytes, sha256: hash.digest('hex'), abortedByUs, ...(error !== undefined ? { error } : {}) });
            };
            res.on('data', (chunk) => {
                if (settled)
                    return;
                let c = chunk;
                if (opts.abortAfterBytes !== undefined && bytes + c.length >= opts.abortAfterBytes) {
                    c = c.subarray(0, opts.abortAfterBytes - bytes);
                    hash.update(c);
                    if (keep)
                        chunks.push(c);
                    bytes += c.length;
                    abortedByUs = true;
                    finish();
                    req.destroy();
                    return;
                }
                hash.update(c);
                if (keep)
                    chunks.push(c);
                bytes += c.length;
            });
            res.once('end', () => {
                // Node emits 'end' for a body shorter than Content-Length only with an 'aborted'/'error' first.
                const cl = res.headers['content-length'];
                if (!res.complete)
                    finish('incomplete body');
                else if (cl !== undefined && Number(cl) !== bytes && opts.method !== 'HEAD')
                    finish(`short body ${bytes}/${cl}`);
                else
                    finish();
            });
            res.once('aborted', () => finish('aborted'));
            res.once('error', (err) => finish(err.message));
            res.once('close', () => finish(res.complete ? undefined : 'connection closed early'));
        });
        req.end();
    });
}
/** The OCI error code list of a JSON error body (empty when it is not one). */
export function ociErrors(body) {
    try {
        const j = JSON.parse(body.toString('utf8'));
        return Array.isArray(j.errors) ? j.errors : [];
    }
    catch {
        return [];
    }
}
/** Sum of a Prometheus metric's samples whose labels include all of `labels`. */
export function metricValue(text, name, labels = {}) {
    let sum = 0;
    for (const line of text.split('\n')) {
        if (line.startsWith('#') || line === '')
            continue;
        const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})?\s+(\S+)/.exec(line);
        if (m === null || m[1] !== name)
            continue;
        const got = {};
        for (const kv of (m[3] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g))
            got[kv[1]] = kv[2];
        if (Object.entries(labels).every(([k, v]) => got[k] === v))
            sum += Number(m[4]);
    }
    return sum;
}
export async function getMetrics(agentUrl) {
    const r = await rawRequest(agentUrl, '/metrics');
    if (r.status !== 200)
        throw new Error(`/metrics answered ${r.status}`);
    return r.body.toString('utf8');
}
/** Whether the agent still answers GET /v2/ with 200. */
export async function agentUp(agentUrl) {
    try {
        const r = await rawRequest(agentUrl, '/v2/', { timeoutMs: 5000 });
        return r.status === 200;
    }
    catch {
        return false;
    }
}
/** Write a config file (JSON is YAML) and return its path. */
export function writeConfig(path, obj) {
    writeFileSync(path, JSON.stringify(obj, null, 2));
    return path;
}
/** The bytes of a blob of a built image (from its OCI layout). */
export function blobBytes(img, digest) {
    return readFileSync(blobPath(img.layoutDir, digest));
}
export function sha256Hex(buf) {
    return createHash('sha256').update(buf).digest('hex');
}
//# sourceMappingURL=agent-http.js.map