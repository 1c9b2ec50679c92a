import assert from 'node:assert/strict';
import { test } from 'node:test';
import { silentLogger } from '../../../src/log.js';
import { createMetrics } from '../../../src/metrics/metrics.js';
import { BlobStore } from '../../../src/store/blob-store.js';
import { collectGarbage } from '../../../src/store/gc.js';
import { pseudoRandom, sha256, tempDir } from '../support/fixtures.js';
async function put(store, data, complete = true) {
    const digest = sha256(data);
    const e = (await store.acquire(digest, { size: data.length }));
    await e.write(0, complete ? data : data.subarray(0, data.length >> 1));
    if (complete)
        await e.completion;
    else
        await e.checkpoint();
    store.release(e);
    return digest;
}
test('LRU eviction of complete blobs down to the quota; pinned and busy blobs stay', async (t) => {
    const { dir, cleanup } = await tempDir();
    t.after(cleanup);
    const store = await BlobStore.open({ dataDir: dir, logger: silentLogger(), metrics: createMetrics({ defaultMetrics: false }) });
    t.after(async () => { await store.close(); });
    const blobs = [1, 2, 3, 4].map(i => pseudoRandom(100_000, 100 + i));
    const digests = [];
    for (const b of blobs)
        digests.push(await put(store, b));
    // Make the access order explicit: 0 oldest ... 3 newest.
    for (const [i, d] of digests.entries()) {
        const meta = (await store.index.getBlob(d));
        await store.index.putBlob(d, { ...meta, lastAccess: 1000 + i });
    }
    await store.setPinned(digests[0], true);
    const busy = new Set([digests[1]]);
    const report = await collectGarbage(store, { maxBytes: 150_000, partialTtlMs: 1e12, pinned: new Set(), busy: d => busy.has(d) });
    // 400 000 bytes, quota 150 000: 0 is pinned, 1 is busy, so 2 goes, then 3; still over quota.
    assert.deepEqual(report.removed.map(r => r.digest), [digests[2], digests[3]]);
    assert.equal(report.overQuota, true);
    assert.equal(await store.stat(digests[2]), undefined);
    assert.equal((await store.stat(digests[0]))?.state, 'complete');
    assert.equal((await store.stat(digests[1]))?.state, 'complete');
});
test('stale partial blobs are removed after their TTL; fresh ones stay', async (t) => {
    const { dir, cleanup } = await tempDir();
    t.after(cleanup);
    const open = async () => await BlobStore.open({ dataDir: dir, logger: silentLogger(), metrics: createMetrics({ defaultMetrics: false }) });
    let store = await open();
    const stale = await put(store, pseudoRandom(50_000, 201), false);
    const fresh = await put(store, pseudoRandom(50_000, 202), false);
    // A restart later: the partial blobs are known from the index only.
    await store.close();
    store = await open();
    t.after(async () => { await store.close(); });
    const meta = (await store.index.getBlob(stale));
    await store.index.putBlob(stale, { ...meta, lastAccess: Date.now() - 3_600_000 });
    const report = await collectGarbage(store, { maxBytes: 1e12, partialTtlMs: 60_000, pinned: new Set(), busy: () => false });
    assert.deepEqual(report.removed.map(r => [r.digest, r.reason]), [[stale, 'partial-ttl']]);
    assert.equal(await store.stat(stale), undefined);
    assert.equal((await store.stat(fresh))?.state, 'partial');
});
test('an orphan data file with no index record is swept', async (t) => {
    const { dir, cleanup } = await tempDir();
    t.after(cleanup);
    const store = await BlobStore.open({ dataDir: dir, logger: silentLogger(), metrics: createMetrics({ defaultMetrics: false }) });
    t.after(async () => { await store.close(); });
    const { writeFile, access } = await import('node:fs/promises');
    const orphan = store.pathOf('sha256:' + 'c'.repeat(64));
    await writeFile(orphan, 'left by a crash');
    const report = await collectGarbage(store, { maxBytes: 1e12, partialTtlMs: 1e12, pinned: new Set(), busy: () => false });
    assert.equal(report.orphanFiles, 1);
    await assert.rejects(access(orphan));
});
//# sourceMappingURL=gc.test.js.map