import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AbortedError } from '../../../src/errors.js';
import { TokenBucket } from '../../../src/util/token-bucket.js';
describe('TokenBucket', () => {
    it('unlimited never waits', async () => {
        const b = new TokenBucket(0);
        const t0 = Date.now();
        await b.take(1 << 30);
        assert.equal(b.unlimited, true);
        assert.ok(Date.now() - t0 < 50);
    });
    it('a full bucket spends at once, then waits for the rate', async () => {
        const b = new TokenBucket(1024 * 1024); // capacity 256 KiB
        assert.equal(b.capacity, 256 * 1024);
        const t0 = Date.now();
        await b.take(256 * 1024);
        assert.ok(Date.now() - t0 < 50, 'the burst is free');
        await b.take(128 * 1024); // 125 ms of rate
        const ms = Date.now() - t0;
        assert.ok(ms >= 100 && ms < 1000, `waited ${ms} ms`);
    });
    it('an abort ends the wait', async () => {
        const b = new TokenBucket(64 * 1024);
        await b.take(64 * 1024);
        const ac = new AbortController();
        setTimeout(() => ac.abort(), 50);
        const t0 = Date.now();
        await assert.rejects(b.take(1024 * 1024, ac.signal), AbortedError);
        assert.ok(Date.now() - t0 < 1000);
    });
});
//# sourceMappingURL=token-bucket.test.js.map