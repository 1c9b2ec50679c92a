/**
 * One garbage-collection pass: stale partial blobs first (they are the cheap ones to lose), then
 * complete blobs in least-recently-used order until the store is under its quota.
 */
export async function collectGarbage(store, policy, logger) {
    const now = policy.now ?? Date.now();
    const blobs = await store.list();
    const keep = (b) => b.pinned || policy.pinned.has(b.digest) || policy.busy(b.digest);
    let used = blobs.reduce((n, b) => n + b.present.bytes, 0);
    const removed = [];
    const drop = async (b, reason) => {
        if (await store.remove(b.digest, reason)) {
            removed.push({ digest: b.digest, bytes: b.present.bytes, reason });
            used -= b.present.bytes;
            logger?.info({ digest: b.digest, bytes: b.present.bytes, reason }, 'gc removed blob');
        }
    };
    for (const b of blobs) {
        if (b.state === 'partial' && !keep(b) && now - b.lastAccess > policy.partialTtlMs)
            await drop(b, 'partial-ttl');
    }
    if (used > policy.maxBytes) {
        const lru = blobs
            .filter(b => b.state === 'complete' && !keep(b))
            .sort((a, b) => a.lastAccess - b.lastAccess);
        for (const b of lru) {
            if (used <= policy.maxBytes)
                break;
            await drop(b, 'quota');
        }
    }
    const orphanFiles = await store.sweepOrphans();
    return {
        removed,
        freedBytes: removed.reduce((n, r) => n + r.bytes, 0),
        usedBytes: used,
        maxBytes: policy.maxBytes,
        orphanFiles,
        overQuota: used > policy.maxBytes
    };
}
//# sourceMappingURL=gc.js.map