// A per-registry circuit breaker. Closed: requests flow, consecutive failures are counted. After
// `threshold` consecutive failures it opens: every request fails at once with CircuitOpenError for
// `openMs`. Then it is half-open: exactly one trial request is let through; its success closes the
// breaker, its failure opens it again for another `openMs`.
import { DEFAULTS } from '../config/defaults.js';
import { CircuitOpenError } from '../errors.js';
class Breaker {
    name;
    threshold;
    openMs;
    now;
    failures = 0;
    openUntil = 0;
    isOpen = false;
    trialInFlight = false;
    constructor(init) {
        this.name = init.name;
        this.threshold = Math.max(1, init.threshold ?? DEFAULTS.upstream.breakerThreshold);
        this.openMs = Math.max(0, init.openMs ?? DEFAULTS.upstream.breakerOpenMs);
        this.now = init.now ?? Date.now;
    }
    get state() {
        if (!this.isOpen)
            return 'closed';
        return this.now() >= this.openUntil ? 'half-open' : 'open';
    }
    acquire() {
        if (!this.isOpen)
            return;
        const now = this.now();
        if (now < this.openUntil) {
            const retryAfterMs = this.openUntil - now;
            throw new CircuitOpenError(`upstream registry ${this.name} is unavailable: circuit open after ${this.failures} consecutive failures, retry in ${Math.ceil(retryAfterMs / 1000)} s`, retryAfterMs);
        }
        if (this.trialInFlight) {
            throw new CircuitOpenError(`upstream registry ${this.name} is unavailable: circuit half-open, a trial request is in flight`, Math.min(this.openMs, 1000));
        }
        this.trialInFlight = true;
    }
    success() {
        this.failures = 0;
        this.isOpen = false;
        this.trialInFlight = false;
    }
    failure() {
        this.failures++;
        if (this.isOpen) {
            // A failed trial (or a late failure while open) re-opens for a full period.
            if (this.trialInFlight || this.now() >= this.openUntil)
                this.openUntil = this.now() + this.openMs;
            this.trialInFlight = false;
            return;
        }
        if (this.failures >= this.threshold) {
            this.isOpen = true;
            this.openUntil = this.now() + this.openMs;
        }
    }
    release() {
        this.trialInFlight = false;
    }
}
export function createCircuitBreaker(init) {
    return new Breaker(init);
}
//# sourceMappingURL=breaker.js.map