// What `layerd status`, the status page and GET /_layerd/status show: the peers, the store against
// its quota, the blobs being fetched and the bytes served to clients by where they came from.
// Everything is read from counters kept up to date elsewhere: a poll every second costs nothing.
import { DEFAULTS } from '../config/defaults.js';
import { SOURCES, sourceOf } from '../session/sources.js';
export class StatusSource {
    init;
    startedAt = Date.now();
    samples = [];
    timer;
    constructor(init) {
        this.init = init;
    }
    /** GET /_layerd/status, /_layerd/history and /_layerd/blobs. */
    routes() {
        return {
            status: { method: 'GET', handle: async () => await this.report() },
            history: { method: 'GET', handle: async () => ({ sampleMs: this.sampleMs, samples: this.history() }) },
            blobs: { method: 'GET', handle: async () => await this.recentBlobs() }
        };
    }
    /**
     * The most recently used blobs of the store (this walks the index: the page asks every few
     * seconds, not every second).
     */
    async recentBlobs(limit = DEFAULTS.status.recentBlobs) {
        const all = await this.init.store.list();
        all.sort((a, b) => b.lastAccess - a.lastAccess || a.digest.localeCompare(b.digest));
        const blobs = all.slice(0, limit).map((b) => ({
            digest: b.digest,
            size: b.size,
            state: b.state,
            presentBytes: b.present.bytes,
            ...(b.origin !== undefined ? { origin: `${b.origin.registry}/${b.origin.repository}` } : {}),
            pinned: b.pinned,
            lastAccess: b.lastAccess
        }));
        return { total: all.length, blobs };
    }
    /**
     * Keep the last few minutes of the served-bytes counters, so the page shows what happened
     * before it was opened.
     */
    start() {
        if (this.timer !== undefined)
            return;
        const sample = async () => {
            this.samples.push({ t: Date.now(), ...await bySource(this.init.metrics.bytesServedBySource) });
            if (this.samples.length > (this.init.samples ?? DEFAULTS.status.samples))
                this.samples.shift();
        };
        void sample();
        this.timer = setInterval(() => { void sample(); }, this.sampleMs);
        this.timer.unref();
    }
    stop() {
        if (this.timer !== undefined)
            clearInterval(this.timer);
        this.timer = undefined;
    }
    history() { return this.samples.map(s => ({ ...s })); }
    get sampleMs() { return this.init.sampleMs ?? DEFAULTS.status.sampleMs; }
    async report() {
        const { store, sessions, peers, metrics } = this.init;
        const transfers = sessions.active().filter(s => !s.isDone).map((s) => {
            const bytes = { ...s.received };
            return { digest: s.digest, size: s.size, presentBytes: s.presentBytes, source: sourceOf(bytes) ?? null, bytes, state: s.status, activeTransfers: s.activeTransfers };
        }).sort((a, b) => a.digest.localeCompare(b.digest));
        const fetched = await bySource(metrics.bytesBySource);
        return {
            ...this.init.extra?.(),
            version: this.init.version,
            self: peers?.peerId ?? null,
            dataDir: this.init.dataDir,
            time: Date.now(),
            startedAt: this.startedAt,
            registries: this.init.registries,
            peers: peers?.peers() ?? [],
            store: {
                usedBytes: store.stats.usedBytes,
                maxBytes: this.init.maxBytes,
                blobs: { ...store.stats.blobs },
                bytes: { ...store.stats.bytes }
            },
            transfers,
            bytes: await bySource(metrics.bytesServedBySource),
            fetched: { peer: fetched.peer, upstream: fetched.upstream }
        };
    }
}
async function bySource(c) {
    const out = { local: 0, peer: 0, upstream: 0 };
    for (const v of (await c.get()).values) {
        const s = v.labels.source;
        if (SOURCES.includes(s))
            out[s] += v.value;
    }
    return out;
}
//# sourceMappingURL=status.js.map