import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { HoldersTable } from '../../../../src/p2p/inventory/table.js';
const D1 = 'sha256:' + '1'.repeat(64);
const D2 = 'sha256:' + '2'.repeat(64);
function entry(digest, size, ranges, extra = {}) {
    return { digest, size, complete: ranges.length === 1 && ranges[0][0] === 0 && ranges[0][1] === size, ranges, fetching: false, claimed: [], ...extra };
}
describe('HoldersTable', () => {
    it('indexes holders by digest, filters them, and hands out copies', () => {
        const t = new HoldersTable();
        t.set('a', entry(D1, 100, [[0, 100]]));
        t.set('b', entry(D1, 100, [[0, 40]], { fetching: true, claimed: [[40, 100]] }));
        t.set('b', entry(D2, 10, [[0, 10]]));
        assert.deepEqual(t.holders(D1, () => true).map(h => h.peerId).sort(), ['a', 'b']);
        assert.deepEqual(t.holders(D1, p => p !== 'a'), [{ peerId: 'b', size: 100, complete: false, ranges: [[0, 40]], fetching: true, claimed: [[40, 100]] }]);
        const [h] = t.holders(D2, () => true);
        h.ranges[0][1] = 5;
        assert.deepEqual(t.get('b', D2)?.ranges, [[0, 10]], 'holders() copies the ranges');
        assert.deepEqual(t.holders('sha256:' + '9'.repeat(64), () => true), []);
    });
    it('remove, dropPeer and replacePeer report what changed', () => {
        const t = new HoldersTable();
        t.set('a', entry(D1, 100, [[0, 100]]));
        t.set('a', entry(D2, 10, [[0, 5]]));
        assert.equal(t.remove('a', D2), true);
        assert.equal(t.remove('a', D2), false);
        assert.equal(t.remove('nobody', D1), false);
        assert.deepEqual(t.digestsOf('a'), [D1]);
        const changed = t.replacePeer('a', new Map([[D2, entry(D2, 10, [[0, 10]])]]));
        assert.deepEqual([...changed].sort(), [D1, D2], 'the old and the new digests both changed');
        assert.deepEqual(t.holders(D1, () => true), []);
        assert.equal(t.holders(D2, () => true).length, 1);
        assert.deepEqual([...t.dropPeer('a')], [D2]);
        assert.deepEqual([...t.dropPeer('a')], []);
        assert.deepEqual(t.holders(D2, () => true), []);
        assert.deepEqual(t.digestsOf('a'), []);
    });
    it('stats count blobs, complete blobs and bytes held', () => {
        const t = new HoldersTable();
        t.set('a', entry(D1, 100, [[0, 100]]));
        t.set('a', entry(D2, 1000, [[0, 10], [500, 520]]));
        assert.deepEqual(t.stats('a'), { blobs: 2, completeBlobs: 1, bytes: 130 });
        assert.deepEqual(t.stats('b'), { blobs: 0, completeBlobs: 0, bytes: 0 });
    });
});
//# sourceMappingURL=table.test.js.map