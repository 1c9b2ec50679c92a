import assert from 'node:assert/strict';
import { test } from 'node:test';
import { silentLogger } from '../../../src/log.js';
import { createMetrics } from '../../../src/metrics/metrics.js';
import { localBlobs } from '../../../src/session/local-blobs.js';
import { SHARE_ALL, sharingPolicy } from '../../../src/session/sharing.js';
import { BlobStore } from '../../../src/store/blob-store.js';
import { collect, pseudoRandom, sha256, tempDir } from '../support/fixtures.js';
const idle = { isFetching: () => false, claimed: () => [], onFetchingChange: () => () => { } };
async function put(store, data, registry, credentialed) {
    const digest = sha256(data);
    const e = (await store.acquire(digest, { size: data.length, origin: { registry, repository: 'app' }, credentialed }));
    await e.write(0, data);
    await e.completion;
    store.release(e);
    return digest;
}
test('blobs fetched with credentials are neither advertised nor served to peers unless their registry is shareable', async (t) => {
    const { dir, cleanup } = await tempDir();
    t.after(cleanup);
    const store = await BlobStore.open({ dataDir: dir, logger: silentLogger(), metrics: createMetrics({ defaultMetrics: false }) });
    t.after(async () => { await store.close(); });
    const pub = await put(store, pseudoRandom(10_000, 301), 'public.test', false);
    const priv = await put(store, pseudoRandom(10_000, 302), 'private.test', true);
    const shared = await put(store, pseudoRandom(10_000, 303), 'team.test', true);
    const local = localBlobs(store, idle, sharingPolicy([{ name: 'public.test', credentialed: false, shareable: false }, { name: 'team.test', credentialed: true, shareable: true }, { name: 'private.test', credentialed: true, shareable: false }]));
    const advertised = (await local.inventory()).map(e => e.digest).sort();
    assert.deepEqual(advertised, [pub, shared].sort());
    await assert.rejects(collect(local.read(priv, 0, 100)), { code: 'PEER_RANGE' });
    assert.equal(await local.pieceHashes(priv), undefined);
    assert.equal((await collect(local.read(shared, 0, 100))).length, 100);
    assert.equal((await local.pieceHashes(pub))?.length, 1);
});
test('peers cannot read bytes we do not hold or outside the blob', async (t) => {
    const { dir, cleanup } = await tempDir();
    t.after(cleanup);
    const store = await BlobStore.open({ dataDir: dir, logger: silentLogger(), metrics: createMetrics({ defaultMetrics: false }) });
    t.after(async () => { await store.close(); });
    const data = pseudoRandom(100_000, 304);
    const digest = sha256(data);
    const e = (await store.acquire(digest, { size: data.length }));
    await e.write(0, data.subarray(0, 40_000));
    const local = localBlobs(store, idle, SHARE_ALL);
    assert.deepEqual(await collect(local.read(digest, 0, 40_000)), data.subarray(0, 40_000));
    await assert.rejects(collect(local.read(digest, 30_000, 50_000)), { code: 'PEER_RANGE' });
    await assert.rejects(collect(local.read(digest, 0, 200_000)), { code: 'PEER_RANGE' });
    await assert.rejects(collect(local.read('sha256:' + 'd'.repeat(64), 0, 10)), { code: 'PEER_RANGE' });
    store.release(e);
});
//# sourceMappingURL=local-blobs.test.js.map