import assert from 'node:assert/strict';
import { test } from 'node:test';
import { collect, counterValue, makeBlob, makeClient, rangeOf, reg, rejection, serveBlob, startServer } from './fixtures.js';
const REPO = 'lib/app';
test('blob: whole blob with Range bytes=0-, bytes and metrics counted', async () => {
    const blob = makeBlob();
    const server = await startServer((req, res) => { serveBlob(req, res, blob.data, { etag: `"${blob.digest}"` }); });
    const { upstream, metrics } = makeClient([reg('r.test', server)]);
    try {
        const got = await upstream.fetchBlob('r.test', REPO, blob.digest, { start: 0 });
        assert.equal(got.size, blob.data.length);
        assert.ok((await collect(got.body)).equals(blob.data));
        assert.equal(server.requests.length, 1);
        assert.equal(server.requests[0].url, `/v2/${REPO}/blobs/${blob.digest}`);
        assert.equal(rangeOf(server.requests[0]), 'bytes=0-');
        assert.equal(await counterValue(metrics, 'upstreamBytes', { registry: 'r.test' }), blob.data.length);
        assert.equal(await counterValue(metrics, 'upstreamRequests', { registry: 'r.test', outcome: 'ok' }), 1);
    }
    finally {
        await upstream.close();
        await server.close();
    }
});
test('blob: a sub-range sends bytes=start-(end-1) and yields exactly end-start bytes', async () => {
    const blob = makeBlob();
    const server = await startServer((req, res) => { serveBlob(req, res, blob.data); });
    const { upstream } = makeClient([reg('r.test', server)]);
    try {
        const got = await upstream.fetchBlob('r.test', REPO, blob.digest, { start: 1000, end: 5000 });
        assert.equal(got.size, blob.data.length);
        assert.ok((await collect(got.body)).equals(blob.data.subarray(1000, 5000)));
        assert.equal(rangeOf(server.requests[0]), 'bytes=1000-4999');
    }
    finally {
        await upstream.close();
        await server.close();
    }
});
test('blob: redirect to a CDN on another port keeps Range and drops Authorization', async () => {
    const blob = makeBlob();
    const cdn = await startServer((req, res) => { serveBlob(req, res, blob.data); });
    const basic = 'Basic ' + Buffer.from('u:pw').toString('base64');
    const registry = await startServer((req, res) => {
        if (req.headers.authorization !== basic) {
            res.writeHead(401, { 'www-authenticate': 'Basic realm="r"' });
            res.end();
            return;
        }
        if (req.url?.startsWith('/v2/') === true) {
            res.writeHead(307, { location: '/hop?x=1' });
            res.end();
            return;
        } // relative
        res.writeHead(302, { location: `${cdn.url}/blobs/x?sig=SIGNED` });
        res.end();
    });
    const { upstream } = makeClient([reg('r.test', registry, { username: 'u', password: 'pw' })]);
    try {
        const got = await upstream.fetchBlob('r.test', REPO, blob.digest, { start: 10, end: 20_010 });
        assert.ok((await collect(got.body)).equals(blob.data.subarray(10, 20_010)));
        assert.deepEqual(registry.requests.map(r => [r.url.split('?')[0], r.headers.authorization, rangeOf(r)]), [
            [`/v2/${REPO}/blobs/${blob.digest}`, undefined, 'bytes=10-20009'],
            [`/v2/${REPO}/blobs/${blob.digest}`, basic, 'bytes=10-20009'],
            ['/hop', basic, 'bytes=10-20009'] // same origin: Authorization kept
        ]);
        assert.equal(cdn.requests.length, 1);
        assert.equal(cdn.requests[0].url, '/blobs/x?sig=SIGNED');
        assert.equal(rangeOf(cdn.requests[0]), 'bytes=10-20009');
        assert.equal(cdn.requests[0].headers.authorization, undefined);
    }
    finally {
        await upstream.close();
        await registry.close();
        await cdn.close();
    }
});
test('blob: a redirect loop is an UpstreamProtocolError', async () => {
    const blob = makeBlob(1024);
    const server = await startServer((req, res) => {
        if (req.url?.startsWith('/v2/') === true) {
            res.writeHead(302, { location: '/a' });
            res.end();
            return;
        }
        res.writeHead(302, { location: req.url === '/a' ? '/b' : '/a' });
        res.end();
    });
    const { upstream } = makeClient([reg('r.test', server)]);
    try {
        const err = await rejection(upstream.fetchBlob('r.test', REPO, blob.digest, { start: 0 }));
        assert.equal(err.code, 'UPSTREAM_PROTOCOL');
        assert.match(err.message, /loop/);
        assert.deepEqual(server.requests.map(r => r.url), [`/v2/${REPO}/blobs/${blob.digest}`, '/a', '/b']); // /a again is the loop
    }
    finally {
        await upstream.close();
        await server.close();
    }
});
test('blob: more than maxRedirects hops is an UpstreamProtocolError', async () => {
    const blob = makeBlob(1024);
    let hops = 0;
    const server = await startServer((req, res) => { res.writeHead(302, { location: `/n${++hops}` }); res.end(); });
    const { upstream } = makeClient([reg('r.test', server)], { maxRedirects: 3 });
    try {
        const err = await rejection(upstream.fetchBlob('r.test', REPO, blob.digest, { start: 0 }));
        assert.equal(err.code, 'UPSTREAM_PROTOCOL');
        assert.match(err.message, /more than 3 redirects/);
        assert.equal(server.requests.length, 4); // the original request + 3 hops
    }
    finally {
        await upstream.close();
        await server.close();
    }
});
test('blob: a body cut mid-way is resumed with Range bytes=N-, bytes identical', async () => {
    const blob = makeBlob();
    const cut = 100_000;
    const server = await startServer((req, res, n) => {
        serveBlob(req, res, blob.data, { etag: `"${blob.digest}"`, ...(n === 1 ? { cutAfter: cut } : {}) });
    });
    const { upstream, metrics } = makeClient([reg('r.test', server)]);
    const resumed = [];
    try {
        const got = await upstream.fetchBlob('r.test', REPO, blob.digest, { start: 0, onResume: (o, a) => resumed.push([o, a]) });
        assert.ok((await collect(got.body)).equals(blob.data));
        assert.equal(server.requests.length, 2);
        assert.equal(rangeOf(server.requests[1]), `bytes=${cut}-`);
        assert.deepEqual(resumed, [[cut, 1]]);
        assert.equal(await counterValue(metrics, 'resumes', { registry: 'r.test' }), 1);
    }
    finally {
        await upstream.close();
        await server.close();
    }
});
test('blob: a changed strong ETag on resume is an UpstreamProtocolError', async () => {
    const blob = makeBlob();
    const server = await startServer((req, res, n) => {
        serveBlob(req, res, blob.data, n === 1 ? { etag: '"v1"', cutAfter: 50_000 } : { etag: '"v2"' });
    });
    const { upstream } = makeClient([reg('r.test', server)]);
    try {
        const got = await upstream.fetchBlob('r.test', REPO, blob.digest, { start: 0 });
        const err = await rejection(collect(got.body));
        assert.equal(err.code, 'UPSTREAM_PROTOCOL');
        assert.match(err.message, /ETag/);
        assert.equal(server.requests.length, 2);
    }
    finally {
        await upstream.close();
        await server.close();
    }
});
test('blob: a 200 to a ranged request is skipped forward to the offset (and bounded by end)', async () => {
    const blob = makeBlob();
    const server = await startServer((req, res) => { serveBlob(req, res, blob.data, { ignoreRange: true }); });
    const { upstream } = makeClient([reg('r.test', server)]);
    try {
        const got = await upstream.fetchBlob('r.test', REPO, blob.digest, { start: 12_345 });
        assert.equal(got.size, blob.data.length);
        assert.ok((await collect(got.body)).equals(blob.data.subarray(12_345)));
        const part = await upstream.fetchBlob('r.test', REPO, blob.digest, { start: 70_001, end: 70_101 });
        const bytes = await collect(part.body);
        assert.equal(bytes.length, 100);
        assert.ok(bytes.equals(blob.data.subarray(70_001, 70_101)));
    }
    finally {
        await upstream.close();
        await server.close();
    }
});
test('blob: fewer bytes than Content-Length (graceful close) → resumed', async () => {
    const blob = makeBlob();
    const server = await startServer((req, res, n) => {
        serveBlob(req, res, blob.data, n === 1 ? { shortAfter: 77_777 } : {});
    });
    const { upstream } = makeClient([reg('r.test', server)]);
    try {
        const got = await upstream.fetchBlob('r.test', REPO, blob.digest, { start: 1, end: 200_001 });
        assert.ok((await collect(got.body)).equals(blob.data.subarray(1, 200_001)));
        assert.deepEqual(server.requests.map(rangeOf), ['bytes=1-200000', `bytes=${1 + 77_777}-200000`]);
    }
    finally {
        await upstream.close();
        await server.close();
    }
});
test('blob: a server sending a shorter range than asked is continued, not counted as a resume', async () => {
    const blob = makeBlob();
    const server = await startServer((req, res) => {
        const start = Number(/bytes=(\d+)-/.exec(req.headers.range ?? '')?.[1] ?? 0);
        const end = Math.min(start + 50_000, blob.data.length);
        res.writeHead(206, { 'content-range': `bytes ${start}-${end - 1}/${blob.data.length}`, 'content-length': String(end - start) });
        res.end(blob.data.subarray(start, end));
    });
    const { upstream, metrics } = makeClient([reg('r.test', server)]);
    try {
        const got = await upstream.fetchBlob('r.test', REPO, blob.digest, { start: 0 });
        assert.ok((await collect(got.body)).equals(blob.data));
        assert.equal(server.requests.length, Math.ceil(blob.data.length / 50_000));
        assert.equal(await counterValue(metrics, 'resumes', { registry: 'r.test' }), 0);
    }
    finally {
        await upstream.close();
        await server.close();
    }
});
test('blob: 503 then success', async () => {
    const blob = makeBlob();
    const server = await startServer((req, res, n) => {
        if (n === 1) {
            res.writeHead(503);
            res.end();
            return;
        }
        serveBlob(req, res, blob.data);
    });
    const { upstream, metrics } = makeClient([reg('r.test', server)]);
    try {
        const got = await upstream.fetchBlob('r.test', REPO, blob.digest, { start: 0 });
        assert.ok((await collect(got.body)).equals(blob.data));
        assert.equal(server.requests.length, 2);
        assert.equal(await counterValue(metrics, 'upstreamRequests', { registry: 'r.test', outcome: 'server_error' }), 1);
    }
    finally {
        await upstream.close();
        await server.close();
    }
});
test('blob: Retry-After (seconds) is honoured', async () => {
    const blob = makeBlob(4096);
    const times = [];
    const server = await startServer((req, res, n) => {
        times.push(Date.now());
        if (n === 1) {
            res.writeHead(429, { 'retry-after': '1' });
            res.end();
            return;
        }
        serveBlob(req, res, blob.data);
    });
    const { upstream } = makeClient([reg('r.test', server)], { backoffMaxMs: 10, retryAfterMaxMs: 2000 });
    try {
        const got = await upstream.fetchBlob('r.test', REPO, blob.digest, { start: 0 });
        assert.ok((await collect(got.body)).equals(blob.data));
        assert.equal(times.length, 2);
        assert.ok(times[1] - times[0] >= 950, `waited only ${times[1] - times[0]} ms`);
    }
    finally {
        await upstream.close();
        await server.close();
    }
});
test('blob: a Retry-After longer than the cap is capped', async () => {
    const blob = makeBlob(4096);
    const times = [];
    const server = await startServer((req, res, n) => {
        times.push(Date.now());
        if (n === 1) {
            res.writeHead(503, { 'retry-after': new Date(Date.now() + 3_600_000).toUTCString() });
            res.end();
            return;
        }
        serveBlob(req, res, blob.data);
    });
    const { upstream } = makeClient([reg('r.test', server)], { retryAfterMaxMs: 200 });
    try {
        await collect((await upstream.fetchBlob('r.test', REPO, blob.digest, { start: 0 })).body);
        const waited = times[1] - times[0];
        assert.ok(waited >= 150 && waited < 1500, `waited ${waited} ms`);
    }
    finally {
        await upstream.close();
        await server.close();
    }
});
test('blob: attempts are bounded → UpstreamUnavailableError (5xx) / TooManyRequestsError (429)', async () => {
    const blob = makeBlob(1024);
    let status = 502;
    const server = await startServer((req, res) => { res.writeHead(status); res.end(); });
    const { upstream } = makeClient([reg('r.test', server)], { maxAttempts: 4 });
    try {
        const err = await rejection(upstream.fetchBlob('r.test', REPO, blob.digest, { start: 0 }));
        assert.equal(err.code, 'UPSTREAM_UNAVAILABLE');
        assert.equal(server.requests.length, 4);
        status = 429;
        const tmr = await rejection(upstream.fetchBlob('r.test', REPO, blob.digest, { start: 0 }));
        assert.equal(tmr.code, 'TOOMANYREQUESTS');
        assert.equal(server.requests.length, 8);
    }
    finally {
        await upstream.close();
        await server.close();
    }
});
test('blob: connection refused is retried, then UpstreamUnavailableError', async () => {
    const blob = makeBlob(1024);
    const gone = await startServer(() => { });
    const url = gone.url;
    await gone.close();
    const { upstream, metrics } = makeClient([{ name: 'gone.test', url }], { maxAttempts: 2 });
    try {
        const err = await rejection(upstream.fetchBlob('gone.test', REPO, blob.digest, { start: 0 }));
        assert.equal(err.code, 'UPSTREAM_UNAVAILABLE');
        assert.equal(await counterValue(metrics, 'upstreamRequests', { registry: 'gone.test', outcome: 'network_error' }), 2);
    }
    finally {
        await upstream.close();
    }
});
test('blob: no body bytes for noProgressTimeoutMs → the attempt is aborted and resumed', async () => {
    const blob = makeBlob();
    const server = await startServer((req, res, n) => {
        serveBlob(req, res, blob.data, n === 1 ? { stallAfter: 30_000 } : {});
    });
    const { upstream } = makeClient([reg('r.test', server)], { noProgressTimeoutMs: 200 });
    try {
        const t0 = Date.now();
        const got = await upstream.fetchBlob('r.test', REPO, blob.digest, { start: 0 });
        assert.ok((await collect(got.body)).equals(blob.data));
        assert.ok(Date.now() - t0 >= 180);
        assert.deepEqual(server.requests.map(rangeOf), ['bytes=0-', 'bytes=30000-']);
    }
    finally {
        await upstream.close();
        await server.close();
    }
});
test('blob: a consumer holding a chunk longer than noProgressTimeoutMs is not a stall', async () => {
    const blob = makeBlob(64 * 1024);
    const server = await startServer((req, res) => { serveBlob(req, res, blob.data); });
    const { upstream } = makeClient([reg('r.test', server)], { noProgressTimeoutMs: 100 });
    try {
        const got = await upstream.fetchBlob('r.test', REPO, blob.digest, { start: 0 });
        const chunks = [];
        for await (const c of got.body) {
            chunks.push(Buffer.from(c));
            if (chunks.length === 1)
                await new Promise(resolve => setTimeout(resolve, 250));
        }
        assert.ok(Buffer.concat(chunks).equals(blob.data));
        assert.equal(server.requests.length, 1);
    }
    finally {
        await upstream.close();
        await server.close();
    }
});
test('blob: 404 → BlobUnknownError, 403 → DeniedError, 416 → RangeInvalidError with the size', async () => {
    const blob = makeBlob(1000);
    const server = await startServer((req, res) => {
        if (req.url?.includes('/missing/') === true) {
            res.writeHead(404, { 'content-type': 'application/json' });
            res.end('{"errors":[{"code":"BLOB_UNKNOWN"}]}');
            return;
        }
        if (req.url?.includes('/secret/') === true) {
            res.writeHead(403);
            res.end();
            return;
        }
        serveBlob(req, res, blob.data);
    });
    const { upstream } = makeClient([reg('r.test', server)]);
    try {
        assert.equal((await rejection(upstream.fetchBlob('r.test', 'lib/missing', blob.digest, { start: 0 }))).code, 'BLOB_UNKNOWN');
        assert.equal((await rejection(upstream.fetchBlob('r.test', 'lib/secret', blob.digest, { start: 0 }))).code, 'DENIED');
        const r = await rejection(upstream.fetchBlob('r.test', REPO, blob.digest, { start: 5000 }));
        assert.equal(r.code, 'RANGE_INVALID');
        assert.equal(r.size, 1000);
        assert.equal(server.requests.length, 3); // none of these is retried
    }
    finally {
        await upstream.close();
        await server.close();
    }
});
test('blob: aborting mid-body → AbortedError and the upstream connection is released', async () => {
    const blob = makeBlob();
    let closed = false;
    const server = await startServer((req, res) => {
        res.on('close', () => { closed = true; });
        serveBlob(req, res, blob.data, { stallAfter: 10_000 });
    });
    const { upstream } = makeClient([reg('r.test', server)]);
    const ac = new AbortController();
    try {
        const got = await upstream.fetchBlob('r.test', REPO, blob.digest, { start: 0, signal: ac.signal });
        let n = 0;
        const err = await rejection((async () => {
            for await (const c of got.body) {
                n += c.length;
                if (n >= 10_000)
                    setTimeout(() => { ac.abort(); }, 20);
            }
        })());
        assert.equal(err.code, 'ABORTED');
        assert.equal(n, 10_000);
        await new Promise(resolve => setTimeout(resolve, 50));
        assert.equal(closed, true);
        // Already aborted: fails before any request.
        assert.equal((await rejection(upstream.fetchBlob('r.test', REPO, blob.digest, { start: 0, signal: ac.signal }))).code, 'ABORTED');
        assert.equal(server.requests.length, 1);
    }
    finally {
        await upstream.close();
        await server.close();
    }
});
test('blob: breaking out of the body early releases the connection', async () => {
    const blob = makeBlob();
    let closed = false;
    const server = await startServer((req, res) => {
        res.on('close', () => { closed = true; });
        serveBlob(req, res, blob.data, { stallAfter: 20_000 });
    });
    const { upstream } = makeClient([reg('r.test', server)]);
    try {
        const got = await upstream.fetchBlob('r.test', REPO, blob.digest, { start: 0 });
        for await (const c of got.body) {
            assert.ok(c.length > 0);
            break;
        }
        await new Promise(resolve => setTimeout(resolve, 50));
        assert.equal(closed, true);
        // A body that is never iterated but returned also releases its connection.
        closed = false;
        const unread = await upstream.fetchBlob('r.test', REPO, blob.digest, { start: 0 });
        await unread.body[Symbol.asyncIterator]().return?.();
        await new Promise(resolve => setTimeout(resolve, 50));
        assert.equal(closed, true);
        assert.equal(server.requests.length, 2);
    }
    finally {
        await upstream.close();
        await server.close();
    }
});
test('blob: a 416 whose Content-Length lies (docker-registry) does not hang', async () => {
    const blob = makeBlob(1000);
    const server = await startServer((req, res) => {
        res.writeHead(416, { 'content-range': 'bytes */1000', 'content-length': '100' });
        res.flushHeaders(); // never sends those 100 bytes
    });
    const { upstream } = makeClient([reg('r.test', server)]);
    try {
        const t0 = Date.now();
        const err = await rejection(upstream.fetchBlob('r.test', REPO, blob.digest, { start: 5000 }));
        assert.equal(err.code, 'RANGE_INVALID');
        assert.equal(err.size, 1000);
        assert.ok(Date.now() - t0 < 1000);
    }
    finally {
        await upstream.close();
        await server.close();
    }
});
//# sourceMappingURL=blob.test.js.map