// Upload slots and the upload rate: a peer may run maxUploadsPerPeer range uploads at once and
// all peers together maxUploadsTotal (beyond that they are told BUSY and ask elsewhere); all
// uploads share one token bucket. A ban aborts the banned peer's running uploads.
import { DEFAULTS } from '../config/defaults.js';
import { AbortedError } from '../errors.js';
import { TokenBucket } from '../util/token-bucket.js';
export function uploads(components, init = {}) {
    return new Uploads(components, init);
}
export class Uploads {
    components;
    /** The shared upload rate. */
    bucket;
    perPeer;
    total;
    slots = new Map();
    inUse = 0;
    unsubscribe;
    constructor(components, init = {}) {
        this.components = components;
        this.perPeer = init.maxUploadsPerPeer ?? DEFAULTS.p2p.maxUploadsPerPeer;
        this.total = init.maxUploadsTotal ?? DEFAULTS.p2p.maxUploadsTotal;
        this.bucket = new TokenBucket(init.uploadBytesPerSecond ?? DEFAULTS.p2p.uploadBytesPerSecond);
    }
    async start() {
        this.unsubscribe = this.components.health.onChange(ev => {
            if (ev.type === 'banned')
                for (const ac of this.slots.get(ev.peerId) ?? [])
                    ac.abort(new AbortedError('peer banned'));
        });
    }
    async stop() {
        this.unsubscribe?.();
        for (const set of this.slots.values())
            for (const ac of set)
                ac.abort(new AbortedError('p2p stopping'));
    }
    /** A slot for one upload to `peer`, or undefined when its or the total limit is reached (BUSY). */
    acquire(peer) {
        let mine = this.slots.get(peer);
        if ((mine?.size ?? 0) >= this.perPeer || this.inUse >= this.total)
            return undefined;
        if (mine === undefined) {
            mine = new Set();
            this.slots.set(peer, mine);
        }
        const set = mine;
        const ac = new AbortController();
        set.add(ac);
        this.inUse++;
        let released = false;
        return {
            signal: ac.signal,
            abort: (reason) => { ac.abort(reason); },
            release: () => {
                if (released)
                    return;
                released = true;
                ac.abort();
                set.delete(ac);
                if (set.size === 0 && this.slots.get(peer) === set)
                    this.slots.delete(peer);
                this.inUse--;
            }
        };
    }
    /** Why `peer` gets no slot, for the BUSY answer. */
    busyMessage(peer) {
        return `upload slots full (${this.slots.get(peer)?.size ?? 0}/${this.perPeer} for you, ${this.inUse}/${this.total} total)`;
    }
    /** Uploads running now (to `peer`, or in total). */
    running(peer) {
        return peer === undefined ? this.inUse : (this.slots.get(peer)?.size ?? 0);
    }
}
//# sourceMappingURL=uploads.js.map