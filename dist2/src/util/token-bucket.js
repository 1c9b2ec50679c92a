// A token bucket shared by everything it caps (today: all uploads to peers): `take(n)` spends n
// tokens (bytes) and waits while the bucket is in debt. Capacity is a quarter second of rate (at
// least 64 KiB) so bursts stay short.
import { sleep } from './sleep.js';
export class TokenBucket {
    bytesPerSecond;
    tokens;
    last = Date.now();
    capacity;
    /** `bytesPerSecond` 0 (or less) means unlimited. */
    constructor(bytesPerSecond) {
        this.bytesPerSecond = bytesPerSecond;
        this.capacity = Math.max(64 * 1024, Math.floor(bytesPerSecond / 4));
        this.tokens = this.capacity;
    }
    get unlimited() { return this.bytesPerSecond <= 0; }
    refill() {
        const now = Date.now();
        this.tokens = Math.min(this.capacity, this.tokens + (now - this.last) * this.bytesPerSecond / 1000);
        this.last = now;
    }
    async take(n, signal) {
        if (this.unlimited)
            return;
        this.refill();
        this.tokens -= n;
        while (this.tokens < 0) {
            const ms = Math.max(5, Math.ceil(-this.tokens * 1000 / this.bytesPerSecond));
            await sleep(ms, signal);
            this.refill();
        }
    }
}
//# sourceMappingURL=token-bucket.js.map