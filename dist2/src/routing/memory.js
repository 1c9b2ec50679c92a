// An in-memory ContentRouter: a table of holdings per peer that a test fills by hand (spegel's
// MemoryRouter plays the same part). Several MemoryRouters can share one MemoryOffice, so that
// what one advertises the others see, the way agents on a LAN would.
import { holderOf } from './router.js';
export class MemoryOffice {
    holdings = new Map();
    listeners = new Set();
    set(peerId, h) {
        let m = this.holdings.get(h.digest);
        if (m === undefined) {
            m = new Map();
            this.holdings.set(h.digest, m);
        }
        m.set(peerId, { ...h, ranges: h.ranges.map(([s, e]) => [s, e]), claimed: (h.claimed ?? []).map(([s, e]) => [s, e]) });
        this.fire(h.digest);
    }
    delete(peerId, digest) {
        if (this.holdings.get(digest)?.delete(peerId) === true)
            this.fire(digest);
    }
    /** Forget everything a peer advertised (it left). */
    leave(peerId) {
        for (const [digest, m] of this.holdings)
            if (m.delete(peerId))
                this.fire(digest);
    }
    holders(digest, except) {
        const out = [];
        for (const [peerId, h] of this.holdings.get(digest) ?? [])
            if (peerId !== except)
                out.push(holderOf(peerId, h));
        return out;
    }
    onChange(fn) {
        this.listeners.add(fn);
        return () => { this.listeners.delete(fn); };
    }
    fire(digest) { for (const fn of this.listeners)
        fn(digest); }
}
export class MemoryRouter {
    self;
    office;
    exclude;
    /** Lookups answered so far (tests assert on them). */
    lookups = 0;
    constructor(self, office = new MemoryOffice(), exclude = () => false) {
        this.self = self;
        this.office = office;
        this.exclude = exclude;
    }
    async lookup(digest, opts = {}) {
        opts.signal?.throwIfAborted();
        this.lookups++;
        return this.holders(digest);
    }
    holders(digest) { return this.office.holders(digest, this.self).filter(h => !this.exclude(h.peerId)); }
    advertise(holding) { this.office.set(this.self, holding); }
    withdraw(digest) { this.office.delete(this.self, digest); }
    onChange(listener) { return this.office.onChange(listener); }
}
//# sourceMappingURL=memory.js.map