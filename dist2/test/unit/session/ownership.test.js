import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ownerOf } from '../../../src/session/ownership.js';
const D = 'sha256:' + 'b'.repeat(64);
const members = ['peerA', 'peerB', 'peerC'].map(id => ({ id }));
test('every agent computes the same owner whatever the member order', () => {
    const reversed = [...members].reverse();
    for (let i = 0; i < 200; i++)
        assert.equal(ownerOf(members, D, i), ownerOf(reversed, D, i));
});
test('pieces are spread over the members', () => {
    const counts = new Map();
    for (let i = 0; i < 300; i++) {
        const o = ownerOf(members, D, i);
        counts.set(o, (counts.get(o) ?? 0) + 1);
    }
    for (const m of members)
        assert.ok((counts.get(m.id) ?? 0) > 60, `${m.id} owns ${counts.get(m.id)} of 300`);
});
test('when a member leaves, only its pieces move', () => {
    const without = members.filter(m => m.id !== 'peerB');
    for (let i = 0; i < 300; i++) {
        const before = ownerOf(members, D, i);
        if (before !== 'peerB')
            assert.equal(ownerOf(without, D, i), before);
    }
});
test('a single member owns everything', () => {
    for (let i = 0; i < 20; i++)
        assert.equal(ownerOf([{ id: 'solo' }], D, i), 'solo');
});
//# sourceMappingURL=ownership.test.js.map