// Getting connected: static peers are dialled at start and re-dialled with bounded, jittered
// backoff whenever no connection to them is open; peers that discovery (mDNS) reports are
// dialled once at a time each (libp2p v3 does not dial them itself, and mDNS repeats itself).
import { multiaddr } from '@multiformats/multiaddr';
import { DEFAULTS } from '../config/defaults.js';
import { ConfigError, errorMessage } from '../errors.js';
import { sleep } from '../util/sleep.js';
import { Tasks } from '../util/tasks.js';
/** While connected to a static peer, look again this often even if no disconnect comes. */
const RECHECK_MS = 5_000;
export function dialer(components, init = {}) {
    return new Dialer(components, init);
}
export class Dialer {
    components;
    /** Peers mDNS reported (the rest of libp2p's discoveries come from the DHT). */
    mdnsPeers = new Set();
    /** The static peers, parsed. */
    peers;
    dialTimeoutMs;
    redialMinMs;
    redialMaxMs;
    log;
    tasks;
    dialing = new Set();
    disconnectWaiters = new Set();
    stopController = new AbortController();
    started = false;
    running = false;
    /** Throws ConfigError for a peer address that is not a multiaddr. */
    constructor(components, init = {}) {
        this.components = components;
        try {
            this.peers = (init.peers ?? []).map(p => multiaddr(p));
        }
        catch (err) {
            throw new ConfigError(`peers: ${errorMessage(err)}`);
        }
        this.dialTimeoutMs = init.dialTimeoutMs ?? DEFAULTS.p2p.requestTimeoutMs;
        this.redialMinMs = init.redialMinMs ?? DEFAULTS.p2p.redialMinMs;
        this.redialMaxMs = init.redialMaxMs ?? DEFAULTS.p2p.redialMaxMs;
        this.log = components.logger;
        this.tasks = new Tasks(this.log);
    }
    /** Listen for discoveries (before the node starts, so none is missed). */
    async start() {
        this.components.libp2p.addEventListener('peer:discovery', this.onDiscovery);
        this.components.libp2p.addEventListener('peer:disconnect', this.wakeWaiters);
        this.started = true;
        this.running = true;
    }
    /** Begin dialling the static peers (the node must be started). */
    afterStart() {
        for (const addr of this.peers)
            this.tasks.track(this.staticLoop(addr));
    }
    async stop() {
        this.running = false;
        this.stopController.abort();
        this.wakeWaiters();
        if (!this.started)
            return;
        this.components.libp2p.removeEventListener('peer:discovery', this.onDiscovery);
        this.components.libp2p.removeEventListener('peer:disconnect', this.wakeWaiters);
        await this.tasks.settle();
    }
    get signal() {
        return AbortSignal.any([this.stopController.signal, AbortSignal.timeout(this.dialTimeoutMs)]);
    }
    onDiscovery = (evt) => {
        const id = evt.detail.id;
        const peer = id.toString();
        const node = this.components.libp2p;
        if (!this.running || peer === node.peerId.toString())
            return;
        this.components.connections.noteFoundBy(peer, this.mdnsPeers.has(peer) ? 'mdns' : 'dht');
        if (this.dialing.has(peer) || this.components.connections.connectionTo(peer) !== undefined)
            return;
        this.dialing.add(peer);
        this.tasks.track(node.dial(id, { signal: this.signal })
            .then(() => { this.log.debug({ peer }, 'dialled discovered peer'); })
            .catch(err => { this.log.debug({ peer, err: errorMessage(err) }, 'dialling discovered peer failed'); })
            .finally(() => this.dialing.delete(peer)));
    };
    async staticLoop(addr) {
        let known = addr.getComponents().find(c => c.name === 'p2p')?.value;
        let backoff = this.redialMinMs;
        const address = addr.toString();
        while (this.running) {
            if (known !== undefined && this.components.connections.connectionTo(known) !== undefined) {
                await this.waitForDisconnect(RECHECK_MS);
                continue;
            }
            try {
                const conn = await this.components.libp2p.dial(addr, { signal: this.signal });
                known = conn.remotePeer.toString();
                this.components.connections.noteFoundBy(known, 'static');
                backoff = this.redialMinMs;
                this.log.debug({ address, peer: known }, 'static peer dialled');
            }
            catch (err) {
                if (!this.running)
                    return;
                this.log.debug({ address, err: errorMessage(err), retryInMs: backoff }, 'static peer dial failed');
                try {
                    await sleep(backoff * (0.8 + Math.random() * 0.4), this.stopController.signal);
                }
                catch {
                    return;
                }
                backoff = Math.min(backoff * 2, this.redialMaxMs);
            }
        }
    }
    async waitForDisconnect(ms) {
        await new Promise(resolve => {
            const done = () => { clearTimeout(timer); this.disconnectWaiters.delete(done); resolve(); };
            const timer = setTimeout(done, ms);
            this.disconnectWaiters.add(done);
            if (!this.running)
                done();
        });
    }
    wakeWaiters = () => {
        for (const w of this.disconnectWaiters)
            w();
    };
}
//# sourceMappingURL=dialer.js.map