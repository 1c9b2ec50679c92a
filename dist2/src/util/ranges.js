// The one range type of layerd: half-open byte ranges [start, end). `RangeSet` does the
// arithmetic (kept sorted, non-overlapping and merged, so equality is structural and the index
// stays small); `Ranges` is its plain-array form, as stored in the index and sent to peers.
/** Do `ranges` cover every byte of [start, end)? */
export function rangesCover(ranges, start, end) {
    if (start >= end)
        return true;
    for (const [s, e] of ranges) {
        if (s <= start && start < e) {
            if (end <= e)
                return true;
            start = e;
        }
        else if (s > start) {
            return false;
        }
    }
    return false;
}
/** Is byte `pos` in `ranges`? */
export function rangesHave(ranges, pos) { return rangesCover(ranges, pos, pos + 1); }
/** End of the range of `ranges` that contains `pos`, or `pos` when none does. */
export function rangeEndAt(ranges, pos) {
    for (const [s, e] of ranges)
        if (s <= pos && pos < e)
            return e;
    return pos;
}
/** Bytes covered by `ranges`. */
export function rangesBytes(ranges) {
    let n = 0;
    for (const [s, e] of ranges)
        n += e - s;
    return n;
}
export class RangeSet {
    r;
    constructor(ranges = []) {
        this.r = [];
        for (const [s, e] of ranges)
            this.add(s, e);
    }
    static full(size) { return new RangeSet(size > 0 ? [[0, size]] : []); }
    /** Sorted, merged copy of the ranges. */
    toArray() { return this.r.map(([s, e]) => [s, e]); }
    get isEmpty() { return this.r.length === 0; }
    get count() { return this.r.length; }
    /** Total number of bytes covered. */
    get bytes() {
        let n = 0;
        for (const [s, e] of this.r)
            n += e - s;
        return n;
    }
    clone() { const c = new RangeSet(); c.r = this.toArray(); return c; }
    /** Index of the first range whose end is >= pos (binary search). */
    firstEndingAtOrAfter(pos) {
        let lo = 0;
        let hi = this.r.length;
        while (lo < hi) {
            const mid = (lo + hi) >>> 1;
            if (this.r[mid][1] < pos)
                lo = mid + 1;
            else
                hi = mid;
        }
        return lo;
    }
    add(start, end) {
        if (!(end > start))
            return this;
        const i = this.firstEndingAtOrAfter(start);
        let j = i;
        let s = start;
        let e = end;
        while (j < this.r.length && this.r[j][0] <= end) {
            s = Math.min(s, this.r[j][0]);
            e = Math.max(e, this.r[j][1]);
            j++;
        }
        this.r.splice(i, j - i, [s, e]);
        return this;
    }
    remove(start, end) {
        if (!(end > start))
            return this;
        const out = [];
        for (const [s, e] of this.r) {
            if (e <= start || s >= end) {
                out.push([s, e]);
                continue;
            }
            if (s < start)
                out.push([s, start]);
            if (e > end)
                out.push([end, e]);
        }
        this.r = out;
        return this;
    }
    union(other) {
        const c = this.clone();
        for (const [s, e] of other.r)
            c.add(s, e);
        return c;
    }
    /** Bytes of [start, end) that are NOT in the set. */
    missing(start, end) {
        const out = new RangeSet();
        let pos = start;
        for (let i = this.firstEndingAtOrAfter(start + 1); i < this.r.length && pos < end; i++) {
            const [s, e] = this.r[i];
            if (s >= end)
                break;
            if (s > pos)
                out.r.push([pos, Math.min(s, end)]);
            pos = Math.max(pos, e);
        }
        if (pos < end)
            out.r.push([pos, end]);
        return out;
    }
    /** The part of the set inside [start, end). */
    intersect(start, end) {
        const out = new RangeSet();
        for (let i = this.firstEndingAtOrAfter(start + 1); i < this.r.length; i++) {
            const [s, e] = this.r[i];
            if (s >= end)
                break;
            const a = Math.max(s, start);
            const b = Math.min(e, end);
            if (b > a)
                out.r.push([a, b]);
        }
        return out;
    }
    intersectSet(other) {
        const out = new RangeSet();
        for (const [s, e] of other.r)
            for (const x of this.intersect(s, e).r)
                out.r.push(x);
        return out;
    }
    has(pos) {
        const i = this.firstEndingAtOrAfter(pos + 1);
        return i < this.r.length && this.r[i][0] <= pos;
    }
    /** True when every byte of [start, end) is in the set. */
    covers(start, end) {
        if (!(end > start))
            return true;
        const i = this.firstEndingAtOrAfter(start + 1);
        return i < this.r.length && this.r[i][0] <= start && this.r[i][1] >= end;
    }
    /** End of the contiguous run that contains `pos`, or `pos` when `pos` is not in the set. */
    contiguousEnd(pos) {
        const i = this.firstEndingAtOrAfter(pos + 1);
        return i < this.r.length && this.r[i][0] <= pos ? this.r[i][1] : pos;
    }
    /** First byte >= pos that is not in the set. */
    firstMissing(pos = 0) { return this.contiguousEnd(pos); }
    /** First byte >= pos that IS in the set, or undefined. */
    nextPresent(pos) {
        const i = this.firstEndingAtOrAfter(pos + 1);
        if (i >= this.r.length)
            return undefined;
        return Math.max(this.r[i][0], pos);
    }
    equals(other) {
        return this.r.length === other.r.length && this.r.every(([s, e], i) => other.r[i][0] === s && other.r[i][1] === e);
    }
    [Symbol.iterator]() { return this.toArray()[Symbol.iterator](); }
    toString() { return this.r.map(([s, e]) => `${s}-${e}`).join(','); }
}
//# sourceMappingURL=ranges.js.map