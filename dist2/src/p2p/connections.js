// Which peers are connected layerd peers. A peer counts once identify shows it speaks our
// inventory protocol (or it opened an inventory stream to us); one that does not is hung up on.
// Everything that depends on membership (inventory senders, holders) follows onConnect /
// onDisconnect instead of watching libp2p itself.
import { peerIdFromString } from '@libp2p/peer-id';
import { Tasks } from '../util/tasks.js';
import { INVENTORY_PROTOCOL } from './protocol.js';
export function connections(components, init = {}) {
    return new Connections(components, init);
}
export class Connections {
    components;
    connected = new Set();
    /** How each peer was found, when we know (else it called us: `inbound`). */
    found = new Map();
    connectListeners = new Set();
    disconnectListeners = new Set();
    protocol;
    log;
    tasks;
    self;
    started = false;
    running = false;
    constructor(components, init = {}) {
        this.components = components;
        this.protocol = init.protocol ?? INVENTORY_PROTOCOL;
        this.log = components.logger;
        this.tasks = new Tasks(this.log);
    }
    async start() {
        const node = this.components.libp2p;
        this.self = node.peerId.toString();
        node.addEventListener('peer:identify', this.handleIdentify);
        node.addEventListener('peer:disconnect', this.handleDisconnect);
        this.started = true;
        this.running = true;
    }
    /** Forget every peer at once (nobody is a member while we stop). */
    async stop() {
        this.running = false;
        if (!this.started)
            return;
        this.components.libp2p.removeEventListener('peer:identify', this.handleIdentify);
        this.components.libp2p.removeEventListener('peer:disconnect', this.handleDisconnect);
        this.connected.clear();
        this.components.metrics.peersConnected.set(0);
        await this.tasks.settle();
    }
    handleIdentify = (evt) => {
        const { peerId, protocols, connection } = evt.detail;
        const peer = peerId.toString();
        if (protocols.includes(this.protocol)) {
            this.markConnected(peer, connection);
        }
        else if (!this.connected.has(peer) && this.running) {
            this.log.debug({ peer }, 'peer does not speak layerd: hanging up');
            this.tasks.track(this.components.libp2p.hangUp(peerId).catch(() => { }));
        }
    };
    handleDisconnect = (evt) => {
        const peer = evt.detail.toString();
        if (!this.connected.delete(peer))
            return;
        this.components.metrics.peersConnected.set(this.connected.size);
        for (const fn of this.disconnectListeners)
            fn(peer);
        this.log.info({ peer }, 'layerd peer disconnected');
    };
    /**
     * The peer speaks layerd (identify said so, or it opened an inventory stream). onConnect fires
     * every time, not only for a new member: a new connection may replace a dead one.
     */
    markConnected(peer, conn) {
        if (!this.running || peer === this.self)
            return;
        if (!this.connected.has(peer)) {
            this.connected.add(peer);
            this.components.metrics.peersConnected.set(this.connected.size);
            this.log.info({ peer, address: conn?.remoteAddr.toString() }, 'layerd peer connected');
        }
        for (const fn of this.connectListeners)
            fn(peer, conn);
    }
    isConnected(peer) { return this.connected.has(peer); }
    /** Remember how a peer was found, before dialling it (first reason wins, static over all). */
    noteFoundBy(peer, how) {
        const known = this.found.get(peer);
        if (known === undefined || known === 'inbound' || how === 'static')
            this.found.set(peer, how);
    }
    foundBy(peer) { return this.found.get(peer) ?? 'inbound'; }
    /** The connected layerd peers. */
    peers() { return [...this.connected]; }
    /** An open connection to `peer` (the newest), layerd peer or not, or undefined. */
    connectionTo(peer) {
        const conns = this.connectionsOf(peer).filter(c => c.status === 'open');
        conns.sort((a, b) => b.timeline.open - a.timeline.open);
        return conns[0];
    }
    /** Remote addresses of our connections to `peer`. */
    addresses(peer) {
        return this.connectionsOf(peer).map(c => c.remoteAddr.toString());
    }
    connectionsOf(peer) {
        if (!this.started)
            return [];
        try {
            return this.components.libp2p.getConnections(peerIdFromString(peer));
        }
        catch {
            return []; // not a peer id
        }
    }
    onConnect(fn) {
        this.connectListeners.add(fn);
        return () => { this.connectListeners.delete(fn); };
    }
    onDisconnect(fn) {
        this.disconnectListeners.add(fn);
        return () => { this.disconnectListeners.delete(fn); };
    }
}
//# sourceMappingURL=connections.js.map