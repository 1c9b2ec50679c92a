// Per-digest throttle for the updates we send: a blob being fetched changes its ranges many times
// a second, and every peer only needs the newest state now and then.
/**
 * The first update of a digest goes out at once, later ones at most every `intervalMs` (only the
 * newest is kept) — unless what it says about coordination changed (fetching, complete, the
 * ranges claimed from upstream): neighbours divide the upstream work by those, so they go out at
 * once too. Removes go out at once and cancel a pending update.
 */
export class ChangeThrottler {
    intervalMs;
    emit;
    state = new Map();
    timer;
    constructor(intervalMs, emit) {
        this.intervalMs = intervalMs;
        this.emit = emit;
    }
    push(change) {
        if (change.type === 'remove') {
            this.state.delete(change.digest);
            this.emit(change);
            return;
        }
        const now = Date.now();
        const digest = change.entry.digest;
        const s = this.state.get(digest);
        if (this.intervalMs <= 0 || s === undefined || now >= s.until || coordinationChanged(s.sent, change.entry)) {
            this.state.set(digest, { until: now + this.intervalMs, sent: change.entry });
            this.emit(change);
            this.schedule();
            return;
        }
        s.pending = change.entry;
        this.schedule();
    }
    schedule() {
        if (this.timer !== undefined || this.state.size === 0)
            return;
        let next = Infinity;
        for (const s of this.state.values())
            next = Math.min(next, s.until);
        this.timer = setTimeout(() => { this.timer = undefined; this.flush(); }, Math.max(1, next - Date.now()));
        this.timer.unref();
    }
    flush() {
        const now = Date.now();
        for (const [digest, s] of this.state) {
            if (now < s.until)
                continue;
            if (s.pending !== undefined) {
                const entry = s.pending;
                s.pending = undefined;
                s.until = now + this.intervalMs;
                s.sent = entry;
                this.emit({ type: 'update', entry });
            }
            else {
                this.state.delete(digest);
            }
        }
        this.schedule();
    }
    stop() {
        if (this.timer !== undefined)
            clearTimeout(this.timer);
        this.timer = undefined;
        this.state.clear();
    }
}
/** A claim's start moves with every byte that arrives (progress); a new claim or a new end is news. */
function coordinationChanged(a, b) {
    if (a.fetching !== b.fetching || a.complete !== b.complete)
        return true;
    const x = a.claimed ?? [];
    const y = b.claimed ?? [];
    return x.length !== y.length || x.some((r, i) => r[1] !== y[i]?.[1]);
}
//# sourceMappingURL=throttle.js.map