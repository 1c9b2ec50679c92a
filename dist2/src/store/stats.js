import { rangesBytes } from '../util/ranges.js';
/**
 * Blobs and present bytes by state, counted once from the index at start and then moved with
 * every change, so a /metrics scrape or a status page costs nothing however big the store is.
 */
export class StoreStats {
    blobs = { partial: 0, complete: 0 };
    bytes = { partial: 0, complete: 0 };
    add(state, ranges) {
        this.blobs[state]++;
        this.bytes[state] += rangesBytes(ranges);
    }
    remove(state, ranges) {
        this.blobs[state] = Math.max(0, this.blobs[state] - 1);
        this.bytes[state] = Math.max(0, this.bytes[state] - rangesBytes(ranges));
    }
    grow(state, bytes) { this.bytes[state] += bytes; }
    /** Present bytes in the store, partial and complete. */
    get usedBytes() { return this.bytes.partial + this.bytes.complete; }
}
//# sourceMappingURL=stats.js.map