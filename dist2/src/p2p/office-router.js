// The office's ContentRouter: the inventory mesh for the neighbours we are directly connected
// to (answers at once, no traffic), and the DHT for everyone else (a bounded lookup, then watches
// of the providers). What we advertise goes to both; holders are the union, one per peer.
export class OfficeRouter {
    mesh;
    dht;
    bootstrapped;
    /**
     * @param bootstrapped - static peers (`--peer`) are configured: the office may span subnets
     * whose agents the DHT has not told us of yet, so every lookup asks it.
     */
    constructor(mesh, dht, bootstrapped = false) {
        this.mesh = mesh;
        this.dht = dht;
        this.bootstrapped = bootstrapped;
    }
    async lookup(digest, opts = {}) {
        // One LAN segment (mDNS only) whose agents all fit in our mesh: a DHT query could only name
        // peers whose holdings the mesh already pushed to us, so skip its round trips.
        if (this.bootstrapped || this.dht.knownPeers() > this.mesh.meshPeers().length)
            await this.dht.lookup(digest, opts);
        return this.holders(digest);
    }
    holders(digest) {
        const out = new Map();
        for (const h of this.dht.holders(digest))
            out.set(h.peerId, h);
        // The mesh's view of a peer is pushed to us whole; it wins when both know the peer.
        for (const h of this.mesh.holders(digest))
            out.set(h.peerId, h);
        return [...out.values()];
    }
    advertise(holding) {
        this.mesh.advertise(holding);
        this.dht.advertise(holding);
    }
    withdraw(digest) {
        this.mesh.withdraw(digest);
        this.dht.withdraw(digest);
    }
    onChange(listener) {
        const a = this.mesh.onChange(listener);
        const b = this.dht.onChange(listener);
        return () => { a(); b(); };
    }
    done(digest) { this.dht.done(digest); }
}
//# sourceMappingURL=office-router.js.map