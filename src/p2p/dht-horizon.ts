// Our DHT's horizon: the agents a DHT query from here could name — those in kad-dht's routing
// table and those whose provider records we store. Each agent tells its mesh peers its horizon
// (inventory 1.1 and 1.2, docs/PROTOCOL.md). An agent whose routing table holds only mesh peers, and
// whose mesh peers' horizons hold only mesh peers, learns nothing from the DHT that the mesh has
// not already told it: it skips lookups and provider records until someone beyond appears
// (docs/ROUTING.md). Two agents given each other as `--peer` paid a lookup and a record per blob
// before, nearly doubling the time of a pull of small layers (bench fig. 7).

import type { KadDHT, SingleKadDHT } from '@libp2p/kad-dht'
import type { PeerId } from '@libp2p/interface'
import type { Logger } from '../log.js'

/** A horizon larger than this is told as "many" (null): the DHT is then always worth asking. */
export const MAX_HORIZON = 64
/** Changes of the horizon within this long are told together. */
const SETTLE_MS = 250

/** The parts of kad-dht read here (its routing table and provider store are not in its interface). */
interface KadInternals {
  routingTable?: { kb?: { toIterable?: () => Iterable<{ peerId: PeerId }> }, addEventListener?: (ev: string, fn: () => void) => void, removeEventListener?: (ev: string, fn: () => void) => void }
  providers?: { addProvider?: (cid: unknown, provider: PeerId, options?: unknown) => Promise<void> }
}

export class DhtHorizon {
  /** Providers other than us whose records we were asked to store (since start). */
  private readonly providers = new Set<string>()
  private readonly listeners = new Set<() => void>()
  private undo: Array<() => void> = []
  private scheduled = false
  private last: string = ''
  /** Whether we can see kad-dht's routing table at all; without it we claim "many". */
  private visible = false
  private running = false

  constructor (private readonly dht: () => KadDHT, private readonly self: () => string, private readonly logger: Logger) {}

  start (): void {
    const kad = this.dht() as KadDHT & KadInternals & Partial<SingleKadDHT>
    const table = kad.routingTable
    this.running = true
    this.visible = typeof table?.kb?.toIterable === 'function'
    if (!this.visible) this.logger.warn('kad-dht routing table not readable: the DHT is always asked')
    const changed = (): void => { this.changed() }
    if (typeof table?.addEventListener === 'function') {
      table.addEventListener('peer:add', changed)
      table.addEventListener('peer:remove', changed)
      this.undo.push(() => { table.removeEventListener?.('peer:add', changed); table.removeEventListener?.('peer:remove', changed) })
    }
    // A record stored here names its provider to whoever asks us: it is part of our horizon even
    // after its provider left our routing table.
    const store = kad.providers
    const add = store?.addProvider
    if (store !== undefined && typeof add === 'function') {
      store.addProvider = async (cid, provider, options) => {
        const id = provider.toString()
        if (id !== this.self() && !this.providers.has(id) && this.providers.size <= MAX_HORIZON) { this.providers.add(id); this.changed() }
        await add.call(store, cid, provider, options)
      }
      this.undo.push(() => { store.addProvider = add })
    }
    this.changed()
  }

  stop (): void {
    this.running = false
    for (const u of this.undo) u()
    this.undo = []
  }

  /** The peers in our routing table; null when it cannot be read. */
  routingPeers (): string[] | null {
    const kb = (this.dht() as KadInternals).routingTable?.kb
    if (!this.visible || kb?.toIterable === undefined) return null
    const out: string[] = []
    for (const p of kb.toIterable()) out.push(p.peerId.toString())
    return out
  }

  /** Every agent our DHT could name, or null for more than MAX_HORIZON (or unreadable); undefined before start. */
  peers (): string[] | null | undefined {
    if (!this.running) return undefined
    const routing = this.routingPeers()
    if (routing === null) return null
    const all = new Set(routing)
    for (const p of this.providers) all.add(p)
    all.delete(this.self())
    return all.size > MAX_HORIZON ? null : [...all].sort()
  }

  /** Called (once per event-loop turn at most) when peers() may have changed. */
  onChange (fn: () => void): () => void {
    this.listeners.add(fn)
    return () => { this.listeners.delete(fn) }
  }

  private changed (): void {
    if (this.scheduled) return
    this.scheduled = true
    // A burst of routing-table changes is told once: an agent that joins fills its table over a
    // second or so, and told every mesh peer each step (7 frames to each in an office of 10).
    setTimeout(() => {
      this.scheduled = false
      if (!this.running) return
      const now = JSON.stringify(this.peers())
      if (now === this.last) return
      this.last = now
      for (const fn of this.listeners) fn()
    }, SETTLE_MS).unref()
  }
}
