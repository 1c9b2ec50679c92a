import assert from 'node:assert/strict';
import { test } from 'node:test';
import { silentLogger } from '../../../src/log.js';
import { createMetrics } from '../../../src/metrics/metrics.js';
import { SessionManager } from '../../../src/session/manager.js';
import { BlobStore } from '../../../src/store/blob-store.js';
import { fakeUpstream } from '../support/fake-upstream.js';
import { collect, pseudoRandom, sha256, tempDir } from '../support/fixtures.js';
async function setup(t, data, upOpts = {}, session = {}) {
    const { dir, cleanup } = await tempDir();
    const store = await BlobStore.open({ dataDir: dir, logger: silentLogger(), metrics: createMetrics({ defaultMetrics: false }) });
    const { up, stats } = fakeUpstream(data, upOpts);
    const mgr = new SessionManager({ store, upstream: up, metrics: createMetrics({ defaultMetrics: false }), logger: silentLogger(), session });
    t.after(async () => { await mgr.stop(); await store.close(); await cleanup(); });
    return { store, mgr, stats };
}
const ctx = { registry: 'upstream.test', repository: 'app' };
test('8 concurrent readers of one blob share one upstream transfer', async (t) => {
    const data = pseudoRandom(5 * 1024 * 1024, 11);
    const digest = sha256(data);
    const { mgr, stats, store } = await setup(t, data);
    const reads = await Promise.all(Array.from({ length: 8 }, async () => {
        const r = await mgr.read(digest, ctx, 0, undefined);
        return await collect(r.body);
    }));
    for (const got of reads)
        assert.equal(sha256(got), digest);
    assert.equal(stats.calls.length, 1);
    assert.equal(stats.bytes, data.length);
    assert.equal((await store.stat(digest))?.state, 'complete');
});
test('a reader that goes away does not stop the download', async (t) => {
    const data = pseudoRandom(3 * 1024 * 1024, 12);
    const digest = sha256(data);
    const { mgr, store } = await setup(t, data, { delayMs: 1 });
    const abort = new AbortController();
    const r = await mgr.read(digest, ctx, 0, undefined, abort.signal);
    let got = 0;
    await assert.rejects((async () => {
        for await (const b of r.body) {
            got += b.reduce((n, c) => n + c.length, 0);
            if (got > 200_000)
                abort.abort();
        }
    })(), { code: 'ABORTED' });
    const e = (await store.acquire(digest));
    await e.completion;
    store.release(e);
    assert.equal((await store.stat(digest))?.state, 'complete');
});
test('a reader far ahead gets its own transfer and nothing is fetched twice', async (t) => {
    const data = pseudoRandom(8 * 1024 * 1024, 13);
    const digest = sha256(data);
    const { mgr, stats } = await setup(t, data, { delayMs: 2 }, { segmentBytes: 1024 * 1024 });
    const first = await mgr.read(digest, ctx, 0, undefined);
    const far = await mgr.read(digest, ctx, 6 * 1024 * 1024, undefined);
    const [a, b] = await Promise.all([collect(first.body), collect(far.body)]);
    assert.equal(sha256(a), digest);
    assert.deepEqual(b, data.subarray(6 * 1024 * 1024));
    assert.ok(stats.calls.some(c => c.start === 6 * 1024 * 1024), 'a second transfer started at the far offset');
    assert.ok(stats.bytes <= data.length + 128 * 1024, `upstream sent ${stats.bytes} for ${data.length}`);
});
test('a failing upstream gives the reader a typed error, and a later read retries', async (t) => {
    const data = pseudoRandom(1024 * 1024, 14);
    const digest = sha256(data);
    const { mgr } = await setup(t, data, { failFirst: 1 });
    await assert.rejects(mgr.read(digest, ctx, 0, undefined), { code: 'UPSTREAM_UNAVAILABLE' });
    const r = await mgr.read(digest, ctx, 0, undefined);
    assert.equal(sha256(await collect(r.body)), digest);
});
test('bytes that fail verification: the reader gets an error and never the whole blob', async (t) => {
    const good = pseudoRandom(1024 * 1024, 15);
    const digest = sha256(good);
    const bad = Buffer.from(good);
    bad[500_000] ^= 1;
    const { mgr, store } = await setup(t, bad);
    const r = await mgr.read(digest, ctx, 0, undefined);
    let got = 0;
    await assert.rejects((async () => { for await (const b of r.body)
        got += b.reduce((n, c) => n + c.length, 0); })(), { code: 'DIGEST_MISMATCH' });
    assert.ok(got < good.length, `reader received ${got} of ${good.length} bytes`);
    assert.equal(await store.stat(digest), undefined);
});
test('ranged reads of a partial blob are served as bytes arrive', async (t) => {
    const data = pseudoRandom(2 * 1024 * 1024, 16);
    const digest = sha256(data);
    const { mgr } = await setup(t, data, { delayMs: 1 });
    const r = await mgr.read(digest, ctx, 1000, 5000);
    assert.deepEqual(await collect(r.body), data.subarray(1000, 5000));
});
//# sourceMappingURL=session.test.js.map