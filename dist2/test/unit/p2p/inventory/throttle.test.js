import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ChangeThrottler } from '../../../../src/p2p/inventory/throttle.js';
import { waitFor } from '../fixtures.js';
const D1 = 'sha256:' + '1'.repeat(64);
const D2 = 'sha256:' + '2'.repeat(64);
function update(digest, end) {
    const entry = { digest, size: 100, complete: end === 100, ranges: [[0, end]], fetching: end < 100, claimed: [] };
    return { type: 'update', entry };
}
const ends = (out) => out.map(c => c.type === 'remove' ? 'remove' : c.entry.ranges[0][1]);
describe('ChangeThrottler', () => {
    it('sends the first update at once and only the newest of a burst after the interval', async () => {
        const out = [];
        const t = new ChangeThrottler(80, c => out.push(c));
        try {
            t.push(update(D1, 10));
            assert.deepEqual(ends(out), [10]);
            t.push(update(D1, 20));
            t.push(update(D1, 30));
            t.push(update(D2, 5)); // another digest is not held back by D1
            assert.deepEqual(ends(out), [10, 5]);
            await waitFor(() => out.length === 3, 2000, 'the held-back update');
            assert.deepEqual(ends(out), [10, 5, 30]);
            await new Promise(resolve => setTimeout(resolve, 200));
            assert.equal(out.length, 3, 'nothing else is sent');
        }
        finally {
            t.stop();
        }
    });
    it('what neighbours coordinate by goes out at once: a new claim, a claim done; a claim that only progressed waits', async () => {
        const out = [];
        const t = new ChangeThrottler(10_000, c => out.push(c));
        const claimed = (end, claims) => {
            const c = update(D1, end);
            if (c.type === 'update')
                c.entry.claimed = claims;
            return c;
        };
        try {
            t.push(claimed(10, []));
            t.push(claimed(10, [[10, 50]])); // a new claim
            t.push(claimed(20, [[20, 50]])); // the same claim, 10 bytes further
            t.push(claimed(50, [])); // the claim is done
            assert.deepEqual(out.map(c => c.type === 'update' ? c.entry.claimed : []), [[], [[10, 50]], []]);
        }
        finally {
            t.stop();
        }
    });
    it('a remove goes out at once and cancels a pending update', async () => {
        const out = [];
        const t = new ChangeThrottler(60, c => out.push(c));
        try {
            t.push(update(D1, 10));
            t.push(update(D1, 20));
            t.push({ type: 'remove', digest: D1 });
            assert.deepEqual(ends(out), [10, 'remove']);
            await new Promise(resolve => setTimeout(resolve, 150));
            assert.deepEqual(ends(out), [10, 'remove']);
            t.push(update(D1, 30)); // after a remove the next update is a first one again
            assert.deepEqual(ends(out), [10, 'remove', 30]);
        }
        finally {
            t.stop();
        }
    });
    it('interval 0 sends every update; stop() drops what is pending', async () => {
        const out = [];
        const t0 = new ChangeThrottler(0, c => out.push(c));
        t0.push(update(D1, 10));
        t0.push(update(D1, 20));
        assert.deepEqual(ends(out), [10, 20]);
        t0.stop();
        const held = [];
        const t = new ChangeThrottler(50, c => held.push(c));
        t.push(update(D1, 10));
        t.push(update(D1, 20));
        t.stop();
        await new Promise(resolve => setTimeout(resolve, 120));
        assert.deepEqual(ends(held), [10]);
    });
});
//# sourceMappingURL=throttle.test.js.map