import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULTS } from '../../../src/config/defaults.js';
import { AbortedError } from '../../../src/errors.js';
import { PeerHealth } from '../../../src/p2p/peer-health.js';
import { Uploads } from '../../../src/p2p/uploads.js';
describe('Uploads', () => {
    it('limits slots per peer and in total; a released slot is free again, once', () => {
        const u = new Uploads({ health: new PeerHealth() }, { maxUploadsPerPeer: 2, maxUploadsTotal: 3 });
        const a1 = u.acquire('a');
        const a2 = u.acquire('a');
        assert.ok(a1 !== undefined && a2 !== undefined);
        assert.equal(u.acquire('a'), undefined, 'per peer');
        assert.equal(u.busyMessage('a'), 'upload slots full (2/2 for you, 2/3 total)');
        const b1 = u.acquire('b');
        assert.equal(u.acquire('c'), undefined, 'in total');
        a1.release();
        a1.release();
        assert.equal(a1.signal.aborted, true);
        assert.equal(u.running(), 2);
        assert.equal(u.running('a'), 1);
        assert.ok(u.acquire('c') !== undefined);
        b1.release();
        a2.release();
    });
    it('a ban aborts that peer\'s uploads only; stop() aborts all', async () => {
        const health = new PeerHealth();
        const u = new Uploads({ health });
        await u.start();
        const a = u.acquire('a');
        const b = u.acquire('b');
        health.ban('a', 1000, 'test');
        assert.equal(a.signal.aborted, true);
        assert.ok(a.signal.reason instanceof AbortedError);
        assert.equal(b.signal.aborted, false);
        await u.stop();
        assert.equal(b.signal.aborted, true);
        health.stop();
    });
    it('defaults come from DEFAULTS.p2p', () => {
        const u = new Uploads({ health: new PeerHealth() });
        for (let i = 0; i < DEFAULTS.p2p.maxUploadsPerPeer; i++)
            assert.ok(u.acquire('a') !== undefined);
        assert.equal(u.acquire('a'), undefined);
        assert.equal(u.bucket.unlimited, DEFAULTS.p2p.uploadBytesPerSecond === 0);
    });
});
//# sourceMappingURL=uploads.test.js.map