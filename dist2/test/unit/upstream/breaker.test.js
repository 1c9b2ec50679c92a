import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createCircuitBreaker } from '../../../src/upstream/breaker.js';
import { collect, counterValue, makeBlob, makeClient, reg, rejection, serveBlob, sleep, startServer } from './fixtures.js';
const REPO = 'lib/app';
test('breaker: opens after consecutive failures, fails fast, half-open lets one trial through', () => {
    let now = 0;
    const b = createCircuitBreaker({ name: 'r.test', threshold: 3, openMs: 1000, now: () => now });
    for (let i = 0; i < 2; i++) {
        b.acquire();
        b.failure();
    }
    b.acquire();
    b.success(); // a success resets the count
    for (let i = 0; i < 3; i++) {
        b.acquire();
        b.failure();
    }
    assert.equal(b.state, 'open');
    assert.throws(() => { b.acquire(); }, (err) => err.code === 'UPSTREAM_CIRCUIT_OPEN' && err.retryAfterMs === 1000 && err.message.includes('r.test'));
    now = 1000;
    assert.equal(b.state, 'half-open');
    b.acquire(); // the trial
    assert.throws(() => { b.acquire(); }, { code: 'UPSTREAM_CIRCUIT_OPEN' }); // only one
    b.failure(); // failed trial: open again
    assert.equal(b.state, 'open');
    now = 2000;
    b.acquire();
    b.success();
    assert.equal(b.state, 'closed');
    b.acquire();
    b.acquire(); // closed: no limit
});
test('breaker: per registry, opens on a failing upstream, fails fast without a request, recovers half-open', async () => {
    const blob = makeBlob(8192);
    let healthy = false;
    const server = await startServer((req, res) => {
        if (!healthy) {
            res.writeHead(503);
            res.end();
            return;
        }
        serveBlob(req, res, blob.data);
    });
    const other = await startServer((req, res) => { serveBlob(req, res, blob.data); });
    const { upstream, metrics } = makeClient([reg('r.test', server), reg('other.test', other)], { maxAttempts: 1, breakerThreshold: 2, breakerOpenMs: 300 });
    try {
        assert.equal((await rejection(upstream.fetchBlob('r.test', REPO, blob.digest, { start: 0 }))).code, 'UPSTREAM_UNAVAILABLE');
        assert.equal((await rejection(upstream.statBlob('r.test', REPO, blob.digest))).code, 'UPSTREAM_UNAVAILABLE');
        assert.equal(server.requests.length, 2);
        const open = await rejection(upstream.fetchBlob('r.test', REPO, blob.digest, { start: 0 }));
        assert.equal(open.code, 'UPSTREAM_CIRCUIT_OPEN');
        assert.match(open.message, /r\.test/);
        assert.equal(server.requests.length, 2); // failed fast: no request
        assert.equal(await counterValue(metrics, 'upstreamRequests', { registry: 'r.test', outcome: 'circuit_open' }), 1);
        // Another registry is not affected.
        assert.ok((await collect((await upstream.fetchBlob('other.test', REPO, blob.digest, { start: 0 })).body)).equals(blob.data));
        // Half-open, trial fails: open again at once.
        await sleep(350);
        assert.equal((await rejection(upstream.statBlob('r.test', REPO, blob.digest))).code, 'UPSTREAM_UNAVAILABLE');
        assert.equal(server.requests.length, 3);
        assert.equal((await rejection(upstream.statBlob('r.test', REPO, blob.digest))).code, 'UPSTREAM_CIRCUIT_OPEN');
        assert.equal(server.requests.length, 3);
        // Half-open, trial succeeds: closed.
        healthy = true;
        await sleep(350);
        assert.ok((await collect((await upstream.fetchBlob('r.test', REPO, blob.digest, { start: 0 })).body)).equals(blob.data));
        assert.deepEqual(await upstream.statBlob('r.test', REPO, blob.digest), { size: blob.data.length });
        assert.equal(server.requests.length, 5);
    }
    finally {
        await upstream.close();
        await server.close();
        await other.close();
    }
});
//# sourceMappingURL=breaker.test.js.map