// What each peer holds: peer → digest → entry, as its inventory stream told us, with a digest
// index so holders() does not scan every peer.
import { holderOf } from '../../routing/router.js';
import { rangesBytes } from '../../util/ranges.js';
export class HoldersTable {
    byPeer = new Map();
    byDigest = new Map();
    /** Replace a peer's whole inventory; returns the digests whose holders changed. */
    replacePeer(peer, entries) {
        const changed = this.dropPeer(peer);
        for (const e of entries.values()) {
            this.set(peer, e);
            changed.add(e.digest);
        }
        return changed;
    }
    set(peer, e) {
        let p = this.byPeer.get(peer);
        if (p === undefined) {
            p = new Map();
            this.byPeer.set(peer, p);
        }
        p.set(e.digest, e);
        let d = this.byDigest.get(e.digest);
        if (d === undefined) {
            d = new Map();
            this.byDigest.set(e.digest, d);
        }
        d.set(peer, e);
    }
    remove(peer, digest) {
        const p = this.byPeer.get(peer);
        if (p?.delete(digest) !== true)
            return false;
        this.unindex(peer, digest);
        return true;
    }
    /** Forget a peer; returns the digests it held. */
    dropPeer(peer) {
        const p = this.byPeer.get(peer);
        const digests = new Set();
        if (p === undefined)
            return digests;
        for (const digest of p.keys()) {
            digests.add(digest);
            this.unindex(peer, digest);
        }
        this.byPeer.delete(peer);
        return digests;
    }
    unindex(peer, digest) {
        const d = this.byDigest.get(digest);
        d?.delete(peer);
        if (d?.size === 0)
            this.byDigest.delete(digest);
    }
    /** Holders of `digest` for which `include(peer)` says yes (copies: callers may keep them). */
    holders(digest, include) {
        const out = [];
        for (const [peerId, e] of this.byDigest.get(digest) ?? []) {
            if (include(peerId))
                out.push(holderOf(peerId, e));
        }
        return out;
    }
    get(peer, digest) {
        return this.byPeer.get(peer)?.get(digest);
    }
    digestsOf(peer) {
        return [...(this.byPeer.get(peer)?.keys() ?? [])];
    }
    stats(peer) {
        let blobs = 0;
        let completeBlobs = 0;
        let bytes = 0;
        for (const e of this.byPeer.get(peer)?.values() ?? []) {
            blobs++;
            if (e.complete)
                completeBlobs++;
            bytes += rangesBytes(e.ranges);
        }
        return { blobs, completeBlobs, bytes };
    }
}
//# sourceMappingURL=table.js.map