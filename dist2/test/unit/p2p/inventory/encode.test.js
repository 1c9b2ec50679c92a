import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FRAME_HEADER_BYTES, parseFrameObject } from '../../../../src/p2p/frames.js';
import { encodeEntryFrames, encodeRemoveFrames, entryJson } from '../../../../src/p2p/inventory/encode.js';
import { expectEntry } from '../../../../src/p2p/validate.js';
const digest = (i) => 'sha256:' + i.toString(16).padStart(64, '0');
function bodies(frames, budget) {
    return frames.map(f => {
        const len = Buffer.from(f).readUInt32BE(0);
        assert.equal(len, f.byteLength - FRAME_HEADER_BYTES);
        assert.ok(len <= budget, `frame body of ${len} bytes exceeds the budget of ${budget}`);
        return parseFrameObject(f.subarray(FRAME_HEADER_BYTES));
    });
}
function complete(i) {
    return { digest: digest(i), size: 1000 + i, complete: true, ranges: [[0, 1000 + i]], fetching: false, claimed: [] };
}
describe('inventory frame encoding', () => {
    it('an empty snapshot is one frame marked done', () => {
        const [only, ...rest] = bodies(encodeEntryFrames('inventory', [], 1024), 1024);
        assert.deepEqual(rest, []);
        assert.deepEqual(only, { type: 'inventory', done: true, entries: [] });
        assert.deepEqual(encodeEntryFrames('update', [], 1024), []);
        assert.deepEqual(encodeRemoveFrames([], 1024), []);
    });
    it('splits a snapshot under the budget; only the last frame is done; entries survive validation', () => {
        const entries = Array.from({ length: 200 }, (_, i) => complete(i));
        const budget = 2048;
        const frames = bodies(encodeEntryFrames('inventory', entries, budget), budget);
        assert.ok(frames.length > 5);
        assert.deepEqual(frames.map(f => f.done), [...Array(frames.length - 1).fill(false), true]);
        const got = frames.flatMap(f => f.entries.map(e => expectEntry(e, 16)));
        assert.deepEqual(got.map(e => e.digest), entries.map(e => e.digest));
        assert.deepEqual(got[7], complete(7));
        const updates = bodies(encodeEntryFrames('update', entries, budget), budget);
        assert.ok(updates.every(f => f.type === 'update' && f.done === undefined));
        assert.equal(updates.flatMap(f => f.entries).length, 200);
    });
    it('trims a partial entry that does not fit to its largest ranges, and drops what cannot fit', () => {
        const ranges = [];
        for (let i = 0; i < 2000; i++)
            ranges.push([i * 100, i * 100 + (i === 1234 ? 90 : 10 + (i % 7))]);
        const big = { digest: digest(1), size: 200_000, complete: false, ranges, fetching: true, claimed: [] };
        const budget = 4096;
        const [frame] = bodies(encodeEntryFrames('update', [big], budget), budget);
        const [e] = frame.entries.map(x => expectEntry(x, 10_000));
        assert.ok(e.ranges.length > 10 && e.ranges.length < ranges.length);
        assert.ok(e.ranges.some(([s, end]) => s === 123_400 && end === 123_490), 'the largest range is kept');
        for (const [s, end] of e.ranges)
            assert.ok(ranges.some(([rs, re]) => rs === s && re === end), 'only advertised ranges, unchanged');
        assert.equal(e.complete, false);
        // a complete entry is never trimmed: too big means left out
        const claimedHeavy = { ...complete(2), claimed: ranges.slice(0, 500).map(([s, end]) => [s, end]) };
        assert.equal(entryJson(claimedHeavy, 200), undefined);
        assert.equal(entryJson(complete(3), 10), undefined);
    });
    it('packs removes under the budget', () => {
        const digests = Array.from({ length: 100 }, (_, i) => digest(i));
        const frames = bodies(encodeRemoveFrames(digests, 1000), 1000);
        assert.ok(frames.length > 1);
        assert.deepEqual(frames.flatMap(f => f.digests), digests);
        assert.ok(frames.every(f => f.type === 'remove'));
    });
});
//# sourceMappingURL=encode.test.js.map