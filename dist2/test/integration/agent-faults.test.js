// Issue A, faults at the edge and upstream, one agent (no peers) in front of the counting proxy and
// a real docker-registry. Each fault gives the client a clear error (status + OCI error JSON with
// our stable code in detail.code), the agent stays up (GET /v2/ afterwards), and a blob stored
// before the faults is still served from disk at the end.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { makeTempDir, removeTempDir, stopAll } from '../helpers/proc.js';
import { freePort } from '../helpers/ports.js';
import { startRegistry } from '../helpers/registry.js';
import { buildImage, pushImage } from '../helpers/images.js';
import { startProxy } from '../helpers/proxy.js';
import { startAgent } from '../helpers/agent.js';
import { rawRequest, ociErrors, agentUp, getMetrics, metricValue, writeConfig, blobBytes } from '../helpers/agent-http.js';
after(stopAll);
const MiB = 1 << 20;
const REPO = 'faults/app';
const HEX64 = 'a'.repeat(64);
function assertOci(r, status, code, detail) {
    const body = r.body.toString('utf8').slice(0, 500);
    assert.equal(r.status, status, `status ${r.status}, body ${body}`);
    assert.match(String(r.headers['content-type']), /application\/json/);
    const errs = ociErrors(r.body);
    assert.ok(errs.length > 0, `OCI error JSON expected, got ${body}`);
    assert.equal(errs[0]?.code, code, body);
    assert.ok(typeof errs[0]?.message === 'string' && errs[0].message.length > 0, 'a message for the user');
    if (detail !== undefined)
        assert.equal(errs[0]?.detail?.code, detail, body);
}
describe('faults: clear errors, agent stays up, nothing stored is lost', () => {
    let reg;
    let proxy;
    let agent;
    let img;
    let deadPort;
    const work = makeTempDir('it-faults');
    const layer = (i) => img.layers[i];
    const blob = (d, repo = REPO) => `/v2/${repo}/blobs/${d}`;
    before(async () => {
        reg = await startRegistry();
        img = await buildImage({ name: REPO, tag: 'v1', layers: [1 * MiB, 3 * MiB, 20 * MiB, 256 * 1024], seed: 'it-faults' });
        await pushImage(img, reg.host, REPO, 'v1');
        await pushImage(img, reg.host, 'faults/flaky', 'v1');
        proxy = await startProxy(reg.url);
        deadPort = await freePort(); // nothing listens there
        const config = writeConfig(join(work, 'faults.yaml'), { upstream: { maxAttempts: 2, backoffBase: 10, backoffMax: 50, connectTimeout: '2s' } });
        agent = await startAgent({
            upstreams: [['upstream.test', proxy.url], ['flaky.test', proxy.url], ['dead.test', `http://127.0.0.1:${deadPort}`]],
            defaultRegistry: 'upstream.test',
            extraArgs: ['--no-p2p', '--config', config],
        });
        // Something stored before the faults: it must survive all of them.
        const r = await rawRequest(agent.url, blob(layer(0).digest));
        assert.equal(r.status, 200);
        assert.equal(`sha256:${r.sha256}`, layer(0).digest);
    });
    test('malformed digest → 400 DIGEST_INVALID; sha512 → DIGEST_INVALID', async () => {
        for (const d of ['sha256:xyz', 'sha256:' + 'A'.repeat(64), 'sha256:' + 'a'.repeat(63), 'nodigest']) {
            assertOci(await rawRequest(agent.url, blob(d)), 400, 'DIGEST_INVALID', 'DIGEST_INVALID');
        }
        assertOci(await rawRequest(agent.url, blob('sha512:' + 'a'.repeat(128))), 400, 'DIGEST_INVALID', 'DIGEST_INVALID');
        assert.equal(proxy.requestsFor('xyz').length + proxy.requestsFor('sha512').length, 0, 'invalid digests never reach upstream');
        assert.ok(await agentUp(agent.url));
    });
    test('names with .. or illegal characters → 400 NAME_INVALID (raw paths, never normalized)', async () => {
        const d = `sha256:${HEX64}`;
        for (const p of [
            `/v2/faults/../etc/blobs/${d}`,
            `/v2/../../etc/passwd/blobs/${d}`,
            `/v2/faults/..%2f..%2fetc/blobs/${d}`,
            `/v2/faults/UPPER/blobs/${d}`,
            `/v2/faults/a;b/manifests/v1`,
            `/v2/faults/a%20b/manifests/v1`,
            `/v2/faults/a$b/blobs/${d}`,
        ]) {
            const r = await rawRequest(agent.url, p);
            assertOci(r, 400, 'NAME_INVALID', 'NAME_INVALID');
        }
        assert.ok(proxy.requests().every(e => !e.path.includes('..') && !e.path.includes('etc')), 'nothing of it reached upstream');
        assert.ok(await agentUp(agent.url));
    });
    test('malformed Range → 416 RANGE_INVALID; Range past the end → 416 with Content-Range: bytes */SIZE', async () => {
        const l = layer(0);
        for (const range of ['bytes=abc', 'bytes=10-5x', 'bytes=--1', 'pages 1-2']) {
            const r = await rawRequest(agent.url, blob(l.digest), { headers: { range } });
            assertOci(r, 416, 'RANGE_INVALID', 'RANGE_INVALID');
        }
        const past = await rawRequest(agent.url, blob(l.digest), { headers: { range: `bytes=${l.size + 10}-` } });
        assertOci(past, 416, 'RANGE_INVALID', 'RANGE_INVALID');
        assert.equal(past.headers['content-range'], `bytes */${l.size}`);
        // A good range still works.
        const ok = await rawRequest(agent.url, blob(l.digest), { headers: { range: 'bytes=100-199' } });
        assert.equal(ok.status, 206);
        assert.ok(ok.body.equals(blobBytes(img, l.digest).subarray(100, 200)));
    });
    test('a 40 KB request header → 431, agent stays up', async () => {
        const r = await rawRequest(agent.url, '/v2/', { headers: { 'x-huge': 'a'.repeat(40 * 1024) } });
        assert.equal(r.status, 431);
        assert.ok(await agentUp(agent.url));
    });
    test('push and delete → 405 UNSUPPORTED', async () => {
        assertOci(await rawRequest(agent.url, '/v2/x/blobs/uploads/', { method: 'POST' }), 405, 'UNSUPPORTED', 'UNSUPPORTED');
        assertOci(await rawRequest(agent.url, `/v2/${REPO}/blobs/uploads/`, { method: 'POST' }), 405, 'UNSUPPORTED', 'UNSUPPORTED');
        assertOci(await rawRequest(agent.url, `/v2/${REPO}/manifests/v1`, { method: 'PUT', headers: { 'content-type': 'application/json' } }), 405, 'UNSUPPORTED', 'UNSUPPORTED');
        assertOci(await rawRequest(agent.url, `/v2/${REPO}/manifests/v1`, { method: 'DELETE' }), 405, 'UNSUPPORTED', 'UNSUPPORTED');
        assertOci(await rawRequest(agent.url, blob(layer(0).digest), { method: 'DELETE' }), 405, 'UNSUPPORTED', 'UNSUPPORTED');
        assert.equal(proxy.requests().filter(e => e.method !== 'GET' && e.method !== 'HEAD').length, 0, 'nothing forwarded upstream');
        // Still stored.
        const r = await rawRequest(agent.url, blob(layer(0).digest));
        assert.equal(`sha256:${r.sha256}`, layer(0).digest);
    });
    test('upstream answering 503 every time → 503 UNAVAILABLE after bounded retries', async () => {
        proxy.failWith({ pathIncludes: '/v2/faults/flaky/', status: 503, body: '{"errors":[{"code":"UNAVAILABLE","message":"down"}]}', times: Infinity });
        try {
            const t0 = performance.now();
            const m = await rawRequest(agent.url, '/v2/faults/flaky/manifests/v1?ns=flaky.test', { headers: { accept: img.topMediaType } });
            assertOci(m, 503, 'UNAVAILABLE');
            const b = await rawRequest(agent.url, `/v2/faults/flaky/blobs/${layer(3).digest}?ns=flaky.test`);
            assertOci(b, 503, 'UNAVAILABLE');
            assert.ok(performance.now() - t0 < 15_000, 'answered within bounded retries');
            assert.ok(proxy.requestsFor('/v2/faults/flaky/').length <= 8, `bounded attempts: ${proxy.requestsFor('/v2/faults/flaky/').length}`);
        }
        finally {
            proxy.clearFaults();
        }
        assert.ok(await agentUp(agent.url));
    });
    test('upstream unreachable (closed port) → 503 quickly', async () => {
        const t0 = performance.now();
        const m = await rawRequest(agent.url, '/v2/faults/app/manifests/v1?ns=dead.test');
        const ms = performance.now() - t0;
        assertOci(m, 503, 'UNAVAILABLE');
        assert.ok(ms < 5000, `took ${ms.toFixed(0)} ms`);
        const b = await rawRequest(agent.url, `/v2/faults/app/blobs/${layer(3).digest}?ns=dead.test`);
        assertOci(b, 503, 'UNAVAILABLE');
        assert.ok(await agentUp(agent.url));
    });
    test('upstream sends corrupted bytes: the client never gets a complete bad blob, nothing is marked complete, the failure is counted', async () => {
        const l = layer(1);
        const m0 = await getMetrics(agent.url);
        const fails0 = metricValue(m0, 'layerd_verification_failures_total');
        const complete0 = metricValue(m0, 'layerd_store_blobs', { state: 'complete' });
        proxy.corrupt({ pathIncludes: l.digest, method: 'GET', offset: 123_457, times: Infinity });
        let r;
        try {
            r = await rawRequest(agent.url, blob(l.digest), { timeoutMs: 60_000 });
        }
        finally {
            proxy.clearFaults();
        }
        const completeBad = r.status === 200 && r.error === undefined && r.bytes === l.size && `sha256:${r.sha256}` !== l.digest;
        assert.ok(!completeBad, 'the client got a complete response with corrupted bytes');
        assert.ok(r.status !== 200 || r.error !== undefined, `the client got a complete response (status ${r.status}, ${r.bytes} bytes, sha ${r.sha256.slice(0, 12)}): the agent should cut or fail it`);
        if (r.status >= 400)
            assert.ok(ociErrors(r.body).length > 0, 'error status comes with OCI JSON');
        const m1 = await getMetrics(agent.url);
        assert.ok(metricValue(m1, 'layerd_verification_failures_total') > fails0, 'layerd_verification_failures_total increased');
        assert.equal(metricValue(m1, 'layerd_store_blobs', { state: 'complete' }), complete0, 'the corrupted blob is not complete in the store');
        assert.ok(await agentUp(agent.url));
        // A later clean GET returns the right bytes.
        const clean = await rawRequest(agent.url, blob(l.digest));
        assert.equal(clean.status, 200);
        assert.equal(clean.error, undefined);
        assert.equal(`sha256:${clean.sha256}`, l.digest);
    });
    test('full disk: 20 MB blob into an 8 MiB tmpfs → an error to the client, agent stays up, a small blob works afterwards (or after gc)', async (t) => {
        const mnt = makeTempDir('it-faults-tmpfs');
        const dataDir = join(mnt, 'fs');
        mkdirSync(dataDir);
        execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', dataDir]);
        t.after(() => { try {
            execFileSync('umount', ['-l', dataDir]);
        }
        catch { /* gone */ } removeTempDir(mnt); });
        const small = await startAgent({ upstreams: { 'upstream.test': proxy.url }, dataDir: join(dataDir, 'data'), extraArgs: ['--no-p2p'], cleanup: t });
        const big = layer(2);
        proxy.reset();
        const t0 = performance.now();
        const r = await rawRequest(small.url, blob(big.digest), { keepBody: false, timeoutMs: 15_000 })
            .catch((err) => ({ status: 0, bytes: 0, error: err.message, headers: {}, body: Buffer.alloc(0), sha256: '', abortedByUs: false }));
        const ms = performance.now() - t0;
        const ups = proxy.requestsFor(big.digest, 'GET');
        t.diagnostic(`full disk: status ${r.status}, ${r.bytes} bytes, error ${r.error ?? '-'} after ${ms.toFixed(0)} ms; ${ups.length} upstream GETs, ${proxy.bytesFor(big.digest)} upstream bytes`);
        assert.ok(!(r.status === 200 && r.error === undefined && r.bytes === big.size), 'the client did not get a complete blob that cannot be stored');
        // STORE_FULL ends the session: no retry storm upstream, the client gets an error promptly.
        assert.ok(ups.length <= 10, `no retry storm upstream: ${ups.length} GETs (${proxy.bytesFor(big.digest)} bytes) for a blob of ${big.size}`);
        assert.ok(ms < 14_000 && (r.status >= 500 || (r.error !== undefined && !r.error.startsWith('timeout'))), `an error for the client, promptly: status ${r.status}, error ${r.error}, after ${ms.toFixed(0)} ms`);
        assert.ok(small.alive(), 'agent process alive');
        assert.ok(await agentUp(small.url), 'agent answers /v2/');
        const logs = small.logs();
        assert.match(logs, /STORE_FULL|disk full|ENOSPC/i, 'the reason is logged');
        const s = layer(3);
        let ok = await rawRequest(small.url, blob(s.digest));
        if (ok.status !== 200 || `sha256:${ok.sha256}` !== s.digest) {
            const gc = await rawRequest(small.url, '/_layerd/gc', { method: 'POST' });
            assert.equal(gc.status, 200, gc.body.toString());
            ok = await rawRequest(small.url, blob(s.digest));
        }
        assert.equal(ok.status, 200, ok.body.toString().slice(0, 300));
        assert.equal(`sha256:${ok.sha256}`, s.digest, 'a small blob works after a full disk');
        await small.stop();
    });
    test('after every fault: the agent is up and the blob stored first is still served from disk', async () => {
        assert.ok(agent.alive());
        assert.ok(await agentUp(agent.url));
        proxy.reset();
        const l = layer(0);
        const r = await rawRequest(agent.url, blob(l.digest));
        assert.equal(r.status, 200);
        assert.equal(`sha256:${r.sha256}`, l.digest);
        await proxy.idle();
        assert.equal(proxy.bytesFor(l.digest), 0, 'served from the store, not upstream');
    });
});
//# sourceMappingURL=agent-faults.test.js.map