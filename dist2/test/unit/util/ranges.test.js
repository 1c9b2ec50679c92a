import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RangeSet } from '../../../src/util/ranges.js';
test('add merges overlapping and adjacent ranges', () => {
    const r = new RangeSet();
    r.add(10, 20).add(30, 40).add(20, 30);
    assert.deepEqual(r.toArray(), [[10, 40]]);
    r.add(50, 60).add(45, 55);
    assert.deepEqual(r.toArray(), [[10, 40], [45, 60]]);
    r.add(0, 100);
    assert.deepEqual(r.toArray(), [[0, 100]]);
});
test('empty and inverted ranges are ignored', () => {
    const r = new RangeSet([[5, 5], [9, 3]]);
    assert.equal(r.isEmpty, true);
    assert.equal(r.bytes, 0);
});
test('remove splits a range', () => {
    const r = new RangeSet([[0, 100]]);
    r.remove(40, 60);
    assert.deepEqual(r.toArray(), [[0, 40], [60, 100]]);
    r.remove(0, 10).remove(90, 200);
    assert.deepEqual(r.toArray(), [[10, 40], [60, 90]]);
    assert.equal(r.bytes, 60);
});
test('missing returns the gaps inside a window', () => {
    const r = new RangeSet([[10, 20], [30, 40]]);
    assert.deepEqual(r.missing(0, 50).toArray(), [[0, 10], [20, 30], [40, 50]]);
    assert.deepEqual(r.missing(15, 35).toArray(), [[20, 30]]);
    assert.deepEqual(r.missing(12, 18).toArray(), []);
    assert.deepEqual(new RangeSet().missing(0, 5).toArray(), [[0, 5]]);
});
test('has, covers, contiguousEnd, firstMissing, nextPresent', () => {
    const r = new RangeSet([[10, 20], [30, 40]]);
    assert.equal(r.has(9), false);
    assert.equal(r.has(10), true);
    assert.equal(r.has(19), true);
    assert.equal(r.has(20), false);
    assert.equal(r.covers(10, 20), true);
    assert.equal(r.covers(10, 21), false);
    assert.equal(r.covers(15, 15), true);
    assert.equal(r.contiguousEnd(12), 20);
    assert.equal(r.contiguousEnd(25), 25);
    assert.equal(r.firstMissing(0), 0);
    assert.equal(r.firstMissing(10), 20);
    assert.equal(r.nextPresent(0), 10);
    assert.equal(r.nextPresent(15), 15);
    assert.equal(r.nextPresent(20), 30);
    assert.equal(r.nextPresent(40), undefined);
});
test('intersect and union', () => {
    const a = new RangeSet([[0, 10], [20, 30]]);
    const b = new RangeSet([[5, 25]]);
    assert.deepEqual(a.intersectSet(b).toArray(), [[5, 10], [20, 25]]);
    assert.deepEqual(a.union(b).toArray(), [[0, 30]]);
    assert.deepEqual(a.intersect(8, 22).toArray(), [[8, 10], [20, 22]]);
    // union does not mutate
    assert.deepEqual(a.toArray(), [[0, 10], [20, 30]]);
});
test('random operations agree with a bitmap model', () => {
    let seed = 42;
    const rnd = (n) => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed % n; };
    const N = 200;
    for (let round = 0; round < 50; round++) {
        const set = new RangeSet();
        const bits = new Array(N).fill(false);
        for (let i = 0; i < 30; i++) {
            const s = rnd(N);
            const e = s + rnd(N - s + 1);
            if (rnd(3) === 0) {
                set.remove(s, e);
                for (let k = s; k < e; k++)
                    bits[k] = false;
            }
            else {
                set.add(s, e);
                for (let k = s; k < e; k++)
                    bits[k] = true;
            }
            const arr = set.toArray();
            for (let k = 1; k < arr.length; k++)
                assert.ok(arr[k - 1][1] < arr[k][0], 'sorted, merged');
            for (let k = 0; k < N; k++)
                assert.equal(set.has(k), bits[k], `bit ${k}`);
            assert.equal(set.bytes, bits.filter(Boolean).length);
        }
    }
});
//# sourceMappingURL=ranges.test.js.map