// Shared helpers for the upstream client tests: real HTTP servers on 127.0.0.1 (port 0) that record
// every request they see, a blob fixture, and a client with small tunables.
import { createHash, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { createMetrics } from '../../../src/metrics/metrics.js';
import { silentLogger } from '../../../src/log.js';
import { createUpstream } from '../../../src/upstream/client.js';
export async function startServer(handler) {
    const requests = [];
    const server = createServer((req, res) => {
        const seen = { method: req.method ?? '', url: req.url ?? '', headers: req.headers };
        requests.push(seen);
        Promise.resolve(handler(req, res, requests.length, seen)).catch(err => {
            res.destroy(err);
        });
    });
    await new Promise(resolve => server.listen(0, '127.0.0.1', resolve));
    const port = server.address().port;
    return {
        url: `http://127.0.0.1:${port}`,
        port,
        requests,
        close: async () => {
            server.closeAllConnections();
            await new Promise(resolve => server.close(() => { resolve(); }));
        }
    };
}
export function makeBlob(size = 256 * 1024) {
    const data = randomBytes(size);
    return { data, digest: 'sha256:' + createHash('sha256').update(data).digest('hex') };
}
/** Serve `data` honouring `Range: bytes=a-b` / `bytes=a-` (single range) like docker-registry does. */
export function serveBlob(req, res, data, opts = {}) {
    const headers = { 'content-type': 'application/octet-stream', 'accept-ranges': 'bytes' };
    if (opts.etag !== undefined)
        headers.etag = opts.etag;
    let start = 0;
    let end = data.length; // exclusive
    let status = 200;
    const range = req.headers.range;
    if (range !== undefined && opts.ignoreRange !== true) {
        const m = /^bytes=(\d+)-(\d*)$/.exec(range);
        if (m == null) {
            res.writeHead(400);
            res.end();
            return;
        }
        start = Number(m[1]);
        end = m[2] === '' ? data.length : Math.min(Number(m[2]) + 1, data.length);
        if (start >= data.length) {
            res.writeHead(416, { 'content-range': `bytes */${data.length}` });
            res.end();
            return;
        }
        status = 206;
        headers['content-range'] = `bytes ${start}-${end - 1}/${data.length}`;
    }
    headers['content-length'] = String(end - start);
    res.writeHead(status, headers);
    if (req.method === 'HEAD') {
        res.end();
        return;
    }
    const body = data.subarray(start, end);
    const partial = opts.cutAfter ?? opts.shortAfter ?? opts.stallAfter;
    if (partial === undefined) {
        res.end(body);
        return;
    }
    res.write(body.subarray(0, partial), () => {
        if (opts.cutAfter !== undefined)
            setTimeout(() => { res.socket?.destroy(); }, 20);
        else if (opts.shortAfter !== undefined)
            setTimeout(() => { res.socket?.end(); }, 20);
        // stallAfter: do nothing; the server's close() ends it
    });
}
export function rangeOf(seen) {
    const r = seen.headers.range;
    return Array.isArray(r) ? r[0] : r;
}
/** A client with small tunables so every test finishes quickly. */
export function makeClient(registries, overrides = {}) {
    const metrics = createMetrics({ defaultMetrics: false });
    const upstream = createUpstream({
        registries,
        metrics,
        logger: silentLogger(),
        connectTimeoutMs: 1000,
        headersTimeoutMs: 2000,
        noProgressTimeoutMs: 2000,
        maxAttempts: 3,
        backoffBaseMs: 5,
        backoffMaxMs: 20,
        breakerThreshold: 1000,
        breakerOpenMs: 1000,
        ...overrides
    });
    return { upstream, metrics };
}
export async function collect(body) {
    const chunks = [];
    for await (const c of body)
        chunks.push(Buffer.from(c));
    return Buffer.concat(chunks);
}
/** The error a promise rejects with (fails when it resolves). */
export async function rejection(p) {
    try {
        await p;
    }
    catch (err) {
        return err;
    }
    throw new Error('expected a rejection, got a value');
}
export async function counterValue(metrics, name, labels) {
    const data = await metrics[name].get();
    let sum = 0;
    for (const v of data.values) {
        if (Object.entries(labels).every(([k, want]) => v.labels[k] === want))
            sum += v.value;
    }
    return sum;
}
export function reg(name, server, credentials) {
    return credentials != null ? { name, url: server.url, credentials } : { name, url: server.url };
}
export function sleep(ms) {
    return new Promise(resolve => setTimeout(resolve, ms));
}
//# sourceMappingURL=fixtures.js.map