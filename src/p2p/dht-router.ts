// Content routing across the whole office on @libp2p/kad-dht (our own protocol prefix, every
// agent a server, LAN addresses kept). Each agent publishes a provider record for every blob it
// holds or fetches (complete or partial); a lookup finds the providers of a digest on any
// subnet, dials them (bounded) and watches them about that one blob (holdings.ts): their byte
// ranges and claims arrive only while someone here wants the blob, and only from agents that
// have it. A provider that is dead costs one bounded dial, then the next source.

import type { KadDHT, SingleKadDHT } from '@libp2p/kad-dht'
import type { PeerId, PeerInfo } from '@libp2p/interface'
import type { Libp2p } from 'libp2p'
import { peerIdFromString } from '@libp2p/peer-id'
import { CID } from 'multiformats/cid'
import { setMaxListeners } from 'node:events'
import { DEFAULTS } from '../config/defaults.js'
import { errorMessage } from '../errors.js'
import type { Logger } from '../log.js'
import type { ContentRouter, Holder, Holding, LookupOptions } from '../routing/router.js'
import { holderOf } from '../routing/router.js'
import { Tasks } from '../util/tasks.js'
import { DhtHorizon } from './dht-horizon.js'
import { Publisher, blobKey } from './dht-publish.js'
import type { Connections } from './connections.js'
import type { HoldingsService } from './holdings.js'
import type { PeerHealth } from './peer-health.js'

export interface DhtRouterComponents {
  libp2p: Libp2p<{ dht: KadDHT }>
  connections: Pick<Connections, 'connectionTo' | 'noteFoundBy' | 'onConnect'>
  health: Pick<PeerHealth, 'isBanned' | 'onChange'>
  holdings: HoldingsService
  logger: Logger
}

export interface DhtRouterInit {
  /** How long a lookup looks for providers. @default DEFAULTS.p2p.dhtLookupTimeoutMs */
  lookupTimeoutMs?: number
  /** How long a provider may take to be dialled and answer. @default DEFAULTS.p2p.dhtDialTimeoutMs */
  dialTimeoutMs?: number
  /** Providers asked per lookup. @default DEFAULTS.p2p.dhtMaxProviders */
  maxProviders?: number
  /**
   * Whether anyone needs our provider records now. Records are published only while it says
   * so, and what waited is published when a peer connects and it does. @default always
   */
  needed?: () => boolean
}

/**
 * A provider that could not be dialled is not dialled again for this long (unless it connects
 * first): its records outlive it, and every lookup would otherwise pay the dial timeout again.
 */
const UNREACHABLE_MS = 60_000

export class DhtRouter implements ContentRouter {
  /** What we advertise, by digest (the holdings protocol answers from it). */
  readonly mine = new Map<string, Holding>()
  /** What peers told us over watches: digest → peer → holding. */
  private readonly table = new Map<string, Map<string, Holding>>()
  /** Providers whose dial failed: peer → until (ms). */
  private readonly unreachable = new Map<string, number>()
  private readonly listeners = new Set<(digest: string) => void>()
  private readonly tasks: Tasks
  private readonly stopController = new AbortController()
  private readonly opts: Required<Omit<DhtRouterInit, 'needed'>>
  private readonly records: Publisher
  /** Lookups in flight, by digest: a second lookup of the same digest joins the first. Each query is bounded by lookupTimeoutMs and removes itself. */
  private readonly inFlight = new Map<string, Promise<void>>()
  private unsubscribe?: () => void
  private running = false
  /** Whether the DHT can name anyone the mesh does not: records and lookups are made only then. */
  readonly needed: () => boolean
  /** Who our DHT could name (told to the mesh, which decides whether the DHT is worth asking). */
  readonly horizon: DhtHorizon

  constructor (private readonly components: DhtRouterComponents, init: DhtRouterInit = {}) {
    const d = DEFAULTS.p2p
    this.opts = {
      lookupTimeoutMs: init.lookupTimeoutMs ?? d.dhtLookupTimeoutMs,
      dialTimeoutMs: init.dialTimeoutMs ?? d.dhtDialTimeoutMs,
      maxProviders: init.maxProviders ?? d.dhtMaxProviders
    }
    this.tasks = new Tasks(components.logger)
    this.needed = init.needed ?? (() => true)
    this.records = new Publisher({ dht: () => this.dht, tasks: this.tasks, logger: components.logger, signal: this.stopController.signal, needed: this.needed, mine: () => this.mine, peers: () => this.knownPeers() })
    this.horizon = new DhtHorizon(() => this.dht, () => this.self, components.logger)
    // Every lookup in flight listens to it.
    setMaxListeners(Infinity, this.stopController.signal)
  }

  private get dht (): KadDHT { return this.components.libp2p.services.dht }

  /** Agents in the DHT's routing table. */
  knownPeers (): number { return (this.dht as Partial<SingleKadDHT>).routingTable?.size ?? 0 }

  async start (): Promise<void> {
    // Every agent answers DHT queries: an office has no clients-only peers.
    await this.dht.setMode('server')
    this.running = true
    const offHealth = this.components.health.onChange(ev => {
      for (const [digest, m] of this.table) if (m.has(ev.peerId)) this.fire(digest)
    })
    // A provide made while nobody was connected reached no one: try again once peers come.
    const offConnect = this.components.connections.onConnect((peer) => {
      this.unreachable.delete(peer)
      this.records.connected()
    })
    this.unsubscribe = () => { offHealth(); offConnect() }
    this.records.start()
    this.horizon.start()
  }

  /** Whether our records are needed may have changed (the mesh learnt of an agent beyond it): publish what waited. */
  neededChanged (): void {
    if (this.running) this.records.refresh()
  }

  async stop (): Promise<void> {
    this.running = false
    this.unsubscribe?.()
    this.horizon.stop()
    this.records.stop()
    this.stopController.abort()
    await this.tasks.settle()
  }

  // ---------------------------------------------------------------- ContentRouter

  /**
   * Find the providers of `digest` and watch them. Resolves as soon as the first provider
   * answers (its holding is then known), or when the query ends or times out with none: the
   * rest of the query goes on in the background (bounded by the same timeout), and providers
   * it finds later reach the session through onChange.
   */
  async lookup (digest: string, opts: LookupOptions = {}): Promise<Holder[]> {
    if (!this.running) return this.holders(digest)
    // A lookup of the same digest still running (often the one started when the manifest naming
    // it was served) answers this one: what it finds later still arrives through onChange.
    let answered = this.inFlight.get(digest)
    if (answered === undefined) {
      const signal = AbortSignal.any([AbortSignal.timeout(this.opts.lookupTimeoutMs), this.stopController.signal])
      let found!: () => void
      const first = new Promise<void>(resolve => { found = resolve })
      const query = this.query(digest, signal, found)
      this.tasks.track(query)
      answered = Promise.race([query, first])
      this.inFlight.set(digest, answered)
      // A finished answer is in the table (holders, watched); a new query may find a holder that
      // published or answered since.
      void query.then(() => { this.inFlight.delete(digest) })
    }
    await (opts.signal === undefined ? answered : Promise.race([answered, new Promise<void>(resolve => { opts.signal!.addEventListener('abort', () => resolve(), { once: true }) })]))
    if (opts.signal?.aborted === true) throw opts.signal.reason
    return this.holders(digest)
  }

  private async query (digest: string, signal: AbortSignal, found: () => void): Promise<void> {
    const asked: Array<Promise<unknown>> = []
    const seen = new Set<string>()
    const t0 = Date.now()
    try {
      for await (const ev of this.dht.findProviders(blobKey(digest), { signal })) {
        // A peer that did not answer the query and that we hold no connection to is gone.
        if (ev.name === 'QUERY_ERROR' && this.components.connections.connectionTo(ev.from.toString()) === undefined) this.forgetPeer(ev.from.toString())
        if (ev.name !== 'PROVIDER') continue
        for (const p of ev.providers) {
          const id = p.id.toString()
          if (id === this.self || seen.has(id) || seen.size >= this.opts.maxProviders || this.isUnreachable(id)) continue
          seen.add(id)
          if (this.components.holdings.watching(id, digest)) { found(); continue }
          asked.push(this.watch(p, digest).then(() => { if (this.table.get(digest)?.has(id) === true) found() }))
        }
        if (seen.size >= this.opts.maxProviders) break
      }
    } catch {
      // Timed out or aborted: what was found stands.
    }
    const queryMs = Date.now() - t0
    await Promise.allSettled(asked)
    this.components.logger.debug({ digest, providers: seen.size, queryMs, totalMs: Date.now() - t0 }, 'dht lookup')
  }

  holders (digest: string): Holder[] {
    const out: Holder[] = []
    for (const [peer, h] of this.table.get(digest) ?? []) {
      if (this.components.health.isBanned(peer) || this.components.connections.connectionTo(peer) === undefined) continue
      out.push(holderOf(peer, h))
    }
    return out
  }

  advertise (holding: Holding): void {
    const d = holding.digest
    this.mine.set(d, holding)
    this.components.holdings.changed(d)
    this.records.blob(d)
  }

  withdraw (digest: string): void {
    if (!this.mine.delete(digest)) return
    this.components.holdings.changed(digest)
    this.records.withdrawn(digest)
  }

  onChange (listener: (digest: string) => void): () => void {
    this.listeners.add(listener)
    return () => { this.listeners.delete(listener) }
  }

  /** Nobody here needs holders of `digest` any more: stop watching its providers. */
  done (digest: string): void {
    this.components.holdings.close(digest)
  }

  // ---------------------------------------------------------------- other keys (tags)

  /** Publish a provider record for any key (e.g. a tag this agent resolved). */
  provideKey (key: CID): void { this.records.key(key) }

  /** Providers of a key, dialled (bounded): their peer ids. */
  async providersOf (key: CID, timeoutMs: number): Promise<string[]> {
    if (!this.running) return []
    const signal = AbortSignal.any([AbortSignal.timeout(timeoutMs), this.stopController.signal])
    const out: string[] = []
    const dials: Array<Promise<unknown>> = []
    try {
      for await (const ev of this.dht.findProviders(key, { signal })) {
        if (ev.name !== 'PROVIDER') continue
        for (const p of ev.providers) {
          const id = p.id.toString()
          if (id === this.self || out.includes(id) || out.length >= this.opts.maxProviders || this.isUnreachable(id)) continue
          out.push(id)
          if (this.components.connections.connectionTo(id) === undefined) {
            this.components.connections.noteFoundBy(id, 'dht')
            dials.push(this.components.libp2p.dial(p.multiaddrs.length > 0 ? p.multiaddrs : p.id, { signal }).catch(() => { this.markUnreachable(id) }))
          }
        }
      }
    } catch {}
    await Promise.allSettled(dials)
    return out.filter(id => this.components.connections.connectionTo(id) !== undefined)
  }

  /** Our provider record of `digest` reached the DHT. */
  hasProvided (digest: string): boolean { return this.records.has(digest) }

  /** Who the DHT names as providers of `digest` (records only: nobody is dialled). For diagnostics and tests. */
  async providerRecords (digest: string, timeoutMs: number): Promise<string[]> {
    if (!this.running) return []
    const out = new Set<string>()
    try {
      for await (const ev of this.dht.findProviders(blobKey(digest), { signal: AbortSignal.any([AbortSignal.timeout(timeoutMs), this.stopController.signal]) })) {
        if (ev.name === 'PROVIDER') for (const p of ev.providers) out.add(p.id.toString())
      }
    } catch {}
    return [...out]
  }

  // ---------------------------------------------------------------- holdings callbacks

  theirs (peer: string, digest: string, holding: Holding | null): void {
    let m = this.table.get(digest)
    if (holding === null || (!holding.complete && !holding.fetching && holding.ranges.length === 0)) {
      if (m?.delete(peer) === true) { if (m.size === 0) this.table.delete(digest); this.fire(digest) }
      return
    }
    if (m === undefined) { m = new Map(); this.table.set(digest, m) }
    m.set(peer, holding)
    this.fire(digest)
  }

  ended (peer: string, digest: string): void {
    // Another watch with the same peer about the same blob may still run (one each way).
    if (this.components.holdings.watching(peer, digest)) return
    this.theirs(peer, digest, null)
  }

  // ---------------------------------------------------------------- internals

  private get self (): string { return this.components.libp2p.peerId.toString() }

  /** Dial a provider (bounded) and watch it about `digest`; a dead one is skipped. */
  private async watch (p: PeerInfo, digest: string, signal?: AbortSignal): Promise<void> {
    const id = p.id.toString()
    if (this.components.health.isBanned(id)) return
    const bound = AbortSignal.any([AbortSignal.timeout(this.opts.dialTimeoutMs), this.stopController.signal, ...(signal !== undefined ? [signal] : [])])
    try {
      this.components.connections.noteFoundBy(id, 'dht')
      let conn = this.components.connections.connectionTo(id)
      if (conn === undefined) {
        try {
          conn = await this.components.libp2p.dial(p.multiaddrs.length > 0 ? p.multiaddrs : p.id as PeerId, { signal: bound })
        } catch (err) {
          if (signal?.aborted !== true) this.markUnreachable(id)
          throw err
        }
      }
      await this.components.holdings.watch(id, conn, digest, bound)
    } catch (err) {
      this.components.logger.debug({ peer: id, digest, err: errorMessage(err) }, 'provider did not answer; skipped')
    }
  }

  private isUnreachable (peer: string): boolean {
    const until = this.unreachable.get(peer)
    if (until === undefined) return false
    if (Date.now() < until) return true
    this.unreachable.delete(peer)
    return false
  }

  private markUnreachable (peer: string): void {
    // Bounded: a map of at most the providers we ever tried in a minute.
    this.unreachable.set(peer, Date.now() + UNREACHABLE_MS)
    this.forgetPeer(peer)
  }

  /**
   * Out of the DHT's routing table: every query would wait for it to time out. kad-dht adds it
   * back when it connects again.
   */
  private forgetPeer (peer: string): void {
    const table = (this.dht as Partial<{ routingTable: { remove?: (p: PeerId) => Promise<void> } }>).routingTable
    if (typeof table?.remove !== 'function') return
    try { void table.remove(peerIdFromString(peer)).catch(() => {}) } catch { /* not a peer id */ }
  }

  private fire (digest: string): void {
    for (const fn of this.listeners) {
      try { fn(digest) } catch (err) { this.components.logger.warn({ err: errorMessage(err) }, 'onChange listener threw') }
    }
  }
}
