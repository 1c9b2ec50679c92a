import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseRange } from '../../../src/registry/range.js';
test('no header or other units mean the whole body', () => {
    assert.equal(parseRange(undefined, 100), undefined);
    assert.equal(parseRange('', 100), undefined);
    assert.equal(parseRange('items=0-5', 100), undefined);
});
test('closed, open-ended and suffix ranges', () => {
    assert.deepEqual(parseRange('bytes=0-9', 100), [0, 10]);
    assert.deepEqual(parseRange('bytes=60-', 100), [60, 100]);
    assert.deepEqual(parseRange('bytes=-10', 100), [90, 100]);
    assert.deepEqual(parseRange('bytes=90-1000', 100), [90, 100], 'end clamped to the size');
    assert.deepEqual(parseRange('bytes=99-99', 100), [99, 100]);
});
test('several ranges that do not merge are served whole; merging ones are combined', () => {
    assert.equal(parseRange('bytes=0-1,5-6', 100), undefined);
    assert.deepEqual(parseRange('bytes=0-10,5-20', 100), [0, 21]);
});
test('unsatisfiable ranges are RANGE_INVALID with the size', () => {
    assert.throws(() => parseRange('bytes=100-', 100), (err) => err.code === 'RANGE_INVALID' && err.size === 100);
    assert.throws(() => parseRange('bytes=500-600', 100), { code: 'RANGE_INVALID' });
});
test('malformed ranges are RANGE_INVALID, not silently ignored', () => {
    for (const h of ['bytes=abc', 'bytes=5-2', 'bytes=--1', 'bytes=1-2-3', 'garbage', 'bytes=', 'bytes=0x10-', 'bytes=' + '9'.repeat(2000) + '-']) {
        assert.throws(() => parseRange(h, 100), { code: 'RANGE_INVALID' }, h.slice(0, 40));
    }
});
test('absurdly large numbers do not overflow into a wrong answer', () => {
    assert.deepEqual(parseRange('bytes=0-99999999999999999999999', 100), [0, 100]);
    assert.throws(() => parseRange('bytes=99999999999999999999999-', 100), { code: 'RANGE_INVALID' });
});
//# sourceMappingURL=range.test.js.map