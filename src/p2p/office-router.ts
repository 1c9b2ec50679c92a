// The office's ContentRouter: the inventory mesh for the neighbours we are directly connected
// to (answers at once, no traffic), and the DHT for everyone else (a bounded lookup, then watches
// of the providers). What we advertise goes to both; holders are the union, one per peer.

import type { ContentRouter, Holder, Holding, LookupOptions } from '../routing/router.js'
import type { DhtRouter } from './dht-router.js'
import type { MeshRouter } from './mesh-router.js'

export class OfficeRouter implements ContentRouter {
  /**
   * @param bootstrapped - static peers (`--peer`) are configured: the office may span subnets,
   * so a cold blob waits for the DHT (on one segment it does not).
   * @param useful - whether the DHT can name anyone the mesh does not (see PeerNetwork): when it
   * cannot, lookups skip its round trips.
   */
  constructor (readonly mesh: MeshRouter, readonly dht: DhtRouter, private readonly bootstrapped = false, private readonly useful: () => boolean = () => true) {}

  async lookup (digest: string, opts: LookupOptions = {}): Promise<Holder[]> {
    if (!this.useful()) return this.holders(digest)
    // A neighbour in the mesh holds or fetches it: start with it, no query (its round trips and
    // the providers it would make us watch cost every agent CPU, for holders we do not need).
    if (this.mesh.holders(digest).length > 0) return this.holders(digest)
    const query = this.dht.lookup(digest, opts)
    // On one LAN segment (no static peers) the DHT only adds the few agents beyond our mesh: a
    // cold blob does not wait for it (a query for a digest nobody holds runs to its timeout, on
    // every blob of a cold pull); what it finds arrives through onChange and the session
    // re-plans (at most its lead went upstream). An office across subnets waits for it: there
    // the agents that hold a blob are often only found through it.
    if (!this.bootstrapped) { query.catch(() => {}); return this.holders(digest) }
    await query
    return this.holders(digest)
  }

  holders (digest: string): Holder[] {
    const out = new Map<string, Holder>()
    for (const h of this.dht.holders(digest)) out.set(h.peerId, h)
    // The mesh's view of a peer is pushed to us whole; it wins when both know the peer.
    for (const h of this.mesh.holders(digest)) out.set(h.peerId, h)
    return [...out.values()]
  }

  advertise (holding: Holding): void {
    this.mesh.advertise(holding)
    this.dht.advertise(holding)
  }

  withdraw (digest: string): void {
    this.mesh.withdraw(digest)
    this.dht.withdraw(digest)
  }

  onChange (listener: (digest: string) => void): () => void {
    const a = this.mesh.onChange(listener)
    const b = this.dht.onChange(listener)
    return () => { a(); b() }
  }

  done (digest: string): void { this.dht.done(digest) }
}
