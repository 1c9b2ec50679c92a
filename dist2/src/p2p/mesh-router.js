// The inventory mesh as a ContentRouter: every layerd peer tells every connected peer what it
// holds (/layerd/inventory/1.0.0), so holders() is answered from a local table without any
// network traffic. advertise()/withdraw() keep the mirror of what we advertise and go out,
// throttled per digest, to one InventorySender per connected peer; InventoryReceiver fills the
// table. Only connected, not banned peers are holders; onChange fires for every table change,
// disconnect, ban and unban.
import { DEFAULTS } from '../config/defaults.js';
import { AbortedError, errorMessage } from '../errors.js';
import { Tasks } from '../util/tasks.js';
import { InventoryReceiver } from './inventory/receiver.js';
import { InventorySender } from './inventory/sender.js';
import { HoldersTable } from './inventory/table.js';
import { ChangeThrottler } from './inventory/throttle.js';
import { INVENTORY_FRAME_TARGET, INVENTORY_PROTOCOL, MAX_RANGES_PER_ENTRY, countFailure } from './protocol.js';
import { expectEntry } from './validate.js';
/** Inventory streams per connection (one each way, plus a replacement or two). */
const MAX_STREAMS = 4;
/** Frame head room for the JSON around the entries. */
const FRAME_OVERHEAD = 64;
export function meshRouter(components, init = {}) {
    return new MeshRouter(components, init);
}
export class MeshRouter {
    components;
    mirror = new Map();
    table = new HoldersTable();
    listeners = new Set();
    senders = new Map();
    throttler;
    receiver;
    log;
    tasks;
    stopController = new AbortController();
    opts;
    unsubscribe = [];
    running = false;
    constructor(components, init = {}) {
        this.components = components;
        const d = DEFAULTS.p2p;
        this.opts = {
            inventoryThrottleMs: init.inventoryThrottleMs ?? d.inventoryThrottleMs,
            maxFrameBytes: init.maxFrameBytes ?? d.maxFrameBytes,
            maxInventoryEntries: init.maxInventoryEntries ?? d.maxInventoryEntries,
            requestTimeoutMs: init.requestTimeoutMs ?? d.requestTimeoutMs,
            redialMinMs: init.redialMinMs ?? d.redialMinMs,
            redialMaxMs: init.redialMaxMs ?? d.redialMaxMs,
            maxMeshPeers: init.maxMeshPeers ?? Infinity
        };
        this.log = components.logger;
        this.tasks = new Tasks(this.log);
        this.throttler = new ChangeThrottler(this.opts.inventoryThrottleMs, change => {
            for (const s of this.senders.values())
                s.enqueue(change);
        });
        this.receiver = new InventoryReceiver({
            table: this.table,
            changed: digests => { this.fire(digests); },
            connected: (peer, conn) => { components.connections.markConnected(peer, conn); },
            failure: (peer, err) => { countFailure(components.metrics, this.log, peer, INVENTORY_PROTOCOL, err); },
            maxFrameBytes: this.opts.maxFrameBytes,
            maxInventoryEntries: this.opts.maxInventoryEntries,
            signal: this.stopController.signal,
            logger: this.log
        });
    }
    async start() {
        const { libp2p, connections, health } = this.components;
        await libp2p.handle(INVENTORY_PROTOCOL, (stream, conn) => { this.tasks.track(this.receiver.handle(stream, conn)); }, { maxInboundStreams: MAX_STREAMS, maxOutboundStreams: MAX_STREAMS });
        this.unsubscribe = [
            connections.onConnect(peer => { this.peerConnected(peer); }),
            connections.onDisconnect(peer => { this.peerDisconnected(peer); }),
            // A ban hides the peer's holdings and its end shows them again.
            health.onChange(ev => { this.fire(this.table.digestsOf(ev.peerId)); })
        ];
        this.running = true;
    }
    async stop() {
        this.running = false;
        this.stopController.abort(new AbortedError('p2p stopping'));
        for (const off of this.unsubscribe)
            off();
        this.throttler.stop();
        for (const s of this.senders.values())
            s.stop();
        this.senders.clear();
        await this.tasks.settle();
    }
    // ---------------------------------------------------------------- ContentRouter
    async lookup(digest, opts = {}) {
        opts.signal?.throwIfAborted();
        return this.holders(digest);
    }
    holders(digest) {
        const { connections, health } = this.components;
        return this.table.holders(digest, peer => connections.isConnected(peer) && !health.isBanned(peer));
    }
    /** Before start() this only fills the mirror (there is nobody to tell yet). */
    advertise(holding) {
        if (!this.shareable(holding))
            return;
        this.mirror.set(holding.digest, holding);
        if (this.running)
            this.throttler.push({ type: 'update', entry: holding });
    }
    withdraw(digest) {
        if (!this.mirror.delete(digest))
            return;
        if (this.running)
            this.throttler.push({ type: 'remove', digest });
    }
    onChange(listener) {
        this.listeners.add(listener);
        return () => { this.listeners.delete(listener); };
    }
    // ---------------------------------------------------------------- for the servers and diagnostics
    /** What we advertise of `digest` (the range and pieces servers serve only that). */
    advertised(digest) {
        return this.mirror.get(digest);
    }
    /** What `peer` advertises in total. */
    stats(peer) {
        return this.table.stats(peer);
    }
    // ---------------------------------------------------------------- internals
    /** Only well-formed entries go on the wire (a peer would reject the whole frame otherwise). */
    shareable(e) {
        try {
            expectEntry(e, MAX_RANGES_PER_ENTRY * 16);
            return true;
        }
        catch (err) {
            this.log.warn({ digest: e.digest, err: errorMessage(err) }, 'local inventory entry is malformed: not shared');
            return false;
        }
    }
    peerConnected(peer) {
        if (!this.running)
            return;
        const existing = this.senders.get(peer);
        if (existing !== undefined) {
            existing.connectionOpened();
            return;
        }
        if (this.senders.size >= this.opts.maxMeshPeers)
            return; // reached through the DHT
        const { connections } = this.components;
        const sender = new InventorySender({
            peer,
            connection: () => connections.connectionTo(peer),
            live: () => this.running && connections.isConnected(peer),
            snapshot: () => [...this.mirror.values()],
            budget: Math.min(this.opts.maxFrameBytes, INVENTORY_FRAME_TARGET) - FRAME_OVERHEAD,
            requestTimeoutMs: this.opts.requestTimeoutMs,
            retryMinMs: this.opts.redialMinMs,
            retryMaxMs: this.opts.redialMaxMs,
            signal: this.stopController.signal,
            logger: this.log
        });
        this.senders.set(peer, sender);
        this.tasks.track(sender.run().finally(() => { if (this.senders.get(peer) === sender)
            this.senders.delete(peer); }));
    }
    peerDisconnected(peer) {
        const had = this.senders.get(peer);
        had?.stop();
        this.senders.delete(peer);
        this.receiver.forget(peer);
        this.fire(this.table.dropPeer(peer));
        // The freed mesh slot goes to a connected peer that has none.
        if (had !== undefined && this.running) {
            const next = this.components.connections.peers().find(p => p !== peer && !this.senders.has(p));
            if (next !== undefined)
                this.peerConnected(next);
        }
    }
    /** Peers we push our inventory to. */
    meshPeers() { return [...this.senders.keys()]; }
    fire(digests) {
        for (const d of digests) {
            for (const l of this.listeners) {
                try {
                    l(d);
                }
                catch (err) {
                    this.log.warn({ err: errorMessage(err) }, 'router listener threw');
                }
            }
        }
    }
}
//# sourceMappingURL=mesh-router.js.map