// The inventory mesh as a ContentRouter: every layerd peer tells every connected peer what it
// holds (/layerd/inventory/1.0.0), so holders() is answered from a local table without any
// network traffic. advertise()/withdraw() keep the mirror of what we advertise and go out,
// throttled per digest, to one InventorySender per connected peer; InventoryReceiver fills the
// table. Only connected, not banned peers are holders; onChange fires for every table change,
// disconnect, ban and unban.

import type { Libp2p } from 'libp2p'
import { DEFAULTS } from '../config/defaults.js'
import { AbortedError, errorMessage } from '../errors.js'
import type { Logger } from '../log.js'
import type { Metrics } from '../metrics/metrics.js'
import type { ContentRouter, Holder, Holding, LookupOptions } from '../routing/router.js'
import { PIECE_SIZE } from '../util/pieces.js'
import { Tasks } from '../util/tasks.js'
import type { Connections } from './connections.js'
import { InventoryReceiver } from './inventory/receiver.js'
import { InventorySender } from './inventory/sender.js'
import { HoldersTable } from './inventory/table.js'
import { ChangeThrottler } from './inventory/throttle.js'
import type { PeerHealth } from './peer-health.js'
import { INVENTORY_FRAME_TARGET, INVENTORY_PROTOCOL, INVENTORY_PROTOCOL_V11, INVENTORY_PROTOCOL_V12, MAX_RANGES_PER_ENTRY, countFailure } from './protocol.js'
import type { InventoryEntry } from './types.js'
import { expectEntry } from './validate.js'

export interface MeshRouterComponents {
  libp2p: Libp2p
  connections: Pick<Connections, 'isConnected' | 'connectionTo' | 'markConnected' | 'onConnect' | 'onDisconnect' | 'peers'>
  health: Pick<PeerHealth, 'isBanned' | 'onChange'>
  metrics: Metrics
  logger: Logger
}

export interface MeshRouterInit {
  /** At most one update per digest per this many ms to each peer. @default DEFAULTS.p2p.inventoryThrottleMs */
  inventoryThrottleMs?: number
  /** Hard limit for a received inventory frame body (we send at most 256 KiB). @default DEFAULTS.p2p.maxFrameBytes */
  maxFrameBytes?: number
  /** Most inventory entries accepted from one peer. @default DEFAULTS.p2p.maxInventoryEntries */
  maxInventoryEntries?: number
  /** Time to open an inventory stream. @default DEFAULTS.p2p.requestTimeoutMs */
  requestTimeoutMs?: number
  /** Backoff between inventory streams to a peer, first and longest. @default DEFAULTS.p2p.redialMinMs / redialMaxMs */
  redialMinMs?: number
  redialMaxMs?: number
  /**
   * Peers we push our whole inventory to (the first to connect; a slot that frees goes to the
   * next). Beyond them the DHT finds what we hold. Infinity: every peer. @default Infinity
   */
  maxMeshPeers?: number
}

/** Inventory streams per connection (one each way, plus a replacement or two). */
const MAX_STREAMS = 4
/** Frame head room for the JSON around the entries. */
const FRAME_OVERHEAD = 64
/**
 * Progress inside a piece (no new whole piece held) goes out at most this often: peers fetch
 * whole pieces, so it tells them little, and eight agents pulling at once each parsed a few
 * updates a second per blob from every other (bench fig. 12).
 */
const PROGRESS_IN_PIECE_MS = 1000
/** Departed mesh peers remembered (see MeshRouter.departed). */
const MAX_DEPARTED = 1024

export function meshRouter (components: MeshRouterComponents, init: MeshRouterInit = {}): MeshRouter {
  return new MeshRouter(components, init)
}

export class MeshRouter implements ContentRouter {
  private readonly mirror = new Map<string, InventoryEntry>()
  private readonly table = new HoldersTable()
  private readonly listeners = new Set<(digest: string) => void>()
  /** Peers that told us their DHT horizon on their current inventory stream (null: many). */
  private readonly horizons = new Map<string, string[] | null>()
  private readonly horizonListeners = new Set<() => void>()
  /**
   * Mesh peers whose connection closed, until they connect again: gone for the horizon. The
   * mesh told us all they held; a routing table (ours or a peer's) that still names one would
   * otherwise switch lookups on for every pull, to find nobody (a peer killed without a
   * goodbye stays in kad-dht's tables until a query fails on it).
   */
  private readonly departed = new Set<string>()
  /** Our own horizon, told to every mesh peer; undefined: no DHT here. */
  private myHorizon: () => string[] | null | undefined = () => undefined
  private readonly senders = new Map<string, InventorySender>()
  private readonly throttler: ChangeThrottler
  private readonly receiver: InventoryReceiver
  private readonly log: Logger
  private readonly tasks: Tasks
  private readonly stopController = new AbortController()
  private readonly opts: Required<MeshRouterInit>
  private unsubscribe: Array<() => void> = []
  private running = false

  constructor (private readonly components: MeshRouterComponents, init: MeshRouterInit = {}) {
    const d = DEFAULTS.p2p
    this.opts = {
      inventoryThrottleMs: init.inventoryThrottleMs ?? d.inventoryThrottleMs,
      maxFrameBytes: init.maxFrameBytes ?? d.maxFrameBytes,
      maxInventoryEntries: init.maxInventoryEntries ?? d.maxInventoryEntries,
      requestTimeoutMs: init.requestTimeoutMs ?? d.requestTimeoutMs,
      redialMinMs: init.redialMinMs ?? d.redialMinMs,
      redialMaxMs: init.redialMaxMs ?? d.redialMaxMs,
      maxMeshPeers: init.maxMeshPeers ?? Infinity
    }
    this.log = components.logger
    this.tasks = new Tasks(this.log)
    // News (a blob started, claimed, completed, removed) goes to every mesh peer; mere progress
    // only to the peers fetching that blob themselves, which divide it with us and take its
    // pieces. The others would parse several updates a second per blob the office fetches for
    // nothing (twelve bystanders of eight pulling agents spent a third of two cores on it); a
    // peer that starts the blob tells us so (its own `fetching`) and is brought up to date then.
    this.throttler = new ChangeThrottler(this.opts.inventoryThrottleMs, (change, news) => {
      for (const [peer, s] of this.senders) {
        if (news || change.type === 'remove' || this.wants(peer, change.entry.digest)) s.enqueue(change)
        else s.defer(change.entry.digest)
      }
    }, { pieceSize: PIECE_SIZE, slowMs: PROGRESS_IN_PIECE_MS })
    this.receiver = new InventoryReceiver({
      table: this.table,
      changed: (digests, peer) => { this.caughtUp(peer, digests); this.fire(digests) },
      connected: (peer, conn) => { components.connections.markConnected(peer, conn) },
      horizon: (peer, peers) => {
        if (peers === undefined) { if (!this.horizons.delete(peer)) return } else this.horizons.set(peer, peers)
        this.tellHorizonListeners()
      },
      failure: (peer, err) => { countFailure(components.metrics, this.log, peer, INVENTORY_PROTOCOL, err) },
      maxFrameBytes: this.opts.maxFrameBytes,
      maxInventoryEntries: this.opts.maxInventoryEntries,
      signal: this.stopController.signal,
      logger: this.log
    })
  }

  async start (): Promise<void> {
    const { libp2p, connections, health } = this.components
    await libp2p.handle([INVENTORY_PROTOCOL_V12, INVENTORY_PROTOCOL_V11, INVENTORY_PROTOCOL], (stream, conn) => { this.tasks.track(this.receiver.handle(stream, conn)) }, { maxInboundStreams: MAX_STREAMS, maxOutboundStreams: MAX_STREAMS })
    this.unsubscribe = [
      connections.onConnect(peer => { this.peerConnected(peer) }),
      connections.onDisconnect(peer => { this.peerDisconnected(peer) }),
      // A ban hides the peer's holdings and its end shows them again.
      health.onChange(ev => { this.fire(this.table.digestsOf(ev.peerId)) })
    ]
    this.running = true
  }

  async stop (): Promise<void> {
    this.running = false
    this.stopController.abort(new AbortedError('p2p stopping'))
    for (const off of this.unsubscribe) off()
    this.throttler.stop()
    for (const s of this.senders.values()) s.stop()
    this.senders.clear()
    await this.tasks.settle()
  }

  // ---------------------------------------------------------------- ContentRouter

  async lookup (digest: string, opts: LookupOptions = {}): Promise<Holder[]> {
    opts.signal?.throwIfAborted()
    return this.holders(digest)
  }

  holders (digest: string): Holder[] {
    const { connections, health } = this.components
    return this.table.holders(digest, peer => connections.isConnected(peer) && !health.isBanned(peer))
  }

  /** Before start() this only fills the mirror (there is nobody to tell yet). */
  advertise (holding: Holding): void {
    if (!this.shareable(holding)) return
    this.mirror.set(holding.digest, holding)
    if (this.running) this.throttler.push({ type: 'update', entry: holding })
  }

  withdraw (digest: string): void {
    if (!this.mirror.delete(digest)) return
    if (this.running) this.throttler.push({ type: 'remove', digest })
  }

  onChange (listener: (digest: string) => void): () => void {
    this.listeners.add(listener)
    return () => { this.listeners.delete(listener) }
  }

  // ---------------------------------------------------------------- for the servers and diagnostics

  /** What we advertise of `digest` (the range and pieces servers serve only that). */
  advertised (digest: string): InventoryEntry | undefined {
    return this.mirror.get(digest)
  }

  /** What `peer` advertises in total. */
  stats (peer: string): { blobs: number, completeBlobs: number, bytes: number } {
    return this.table.stats(peer)
  }

  // ---------------------------------------------------------------- internals

  /** Only well-formed entries go on the wire (a peer would reject the whole frame otherwise). */
  private shareable (e: InventoryEntry): boolean {
    try {
      expectEntry(e, MAX_RANGES_PER_ENTRY * 16)
      return true
    } catch (err) {
      this.log.warn({ digest: e.digest, err: errorMessage(err) }, 'local inventory entry is malformed: not shared')
      return false
    }
  }

  private peerConnected (peer: string): void {
    if (!this.running) return
    if (this.departed.delete(peer)) { this.tellHorizonListeners(); this.horizonChanged() }
    const existing = this.senders.get(peer)
    if (existing !== undefined) { existing.connectionOpened(); return }
    if (this.senders.size >= this.opts.maxMeshPeers) return // reached through the DHT
    const { connections } = this.components
    const sender = new InventorySender({
      peer,
      connection: () => connections.connectionTo(peer),
      live: () => this.running && connections.isConnected(peer),
      snapshot: () => [...this.mirror.values()],
      horizon: () => this.toldHorizon(),
      budget: Math.min(this.opts.maxFrameBytes, INVENTORY_FRAME_TARGET) - FRAME_OVERHEAD,
      requestTimeoutMs: this.opts.requestTimeoutMs,
      retryMinMs: this.opts.redialMinMs,
      retryMaxMs: this.opts.redialMaxMs,
      signal: this.stopController.signal,
      logger: this.log
    })
    this.senders.set(peer, sender)
    this.tasks.track(sender.run().finally(() => { if (this.senders.get(peer) === sender) this.senders.delete(peer) }))
  }

  private peerDisconnected (peer: string): void {
    const had = this.senders.get(peer)
    had?.stop()
    this.senders.delete(peer)
    this.receiver.forget(peer)
    // Its horizon may be gone already (its inventory stream closes first).
    const toldHorizon = this.horizons.delete(peer)
    if (had !== undefined || toldHorizon) {
      this.departed.add(peer)
      // Bounded: the oldest departure is forgotten first.
      if (this.departed.size > MAX_DEPARTED) this.departed.delete(this.departed.values().next().value as string)
      this.tellHorizonListeners()
      this.horizonChanged()
    }
    this.fire(this.table.dropPeer(peer))
    // The freed mesh slot goes to a connected peer that has none.
    if (had !== undefined && this.running) {
      const next = this.components.connections.peers().find(p => p !== peer && !this.senders.has(p))
      if (next !== undefined) this.peerConnected(next)
    }
  }

  // ---------------------------------------------------------------- the DHT's horizon

  /** Where our own horizon comes from (the DHT, once it runs); told to every mesh peer. */
  tellHorizon (source: () => string[] | null | undefined): void {
    this.myHorizon = source
    this.horizonChanged()
  }

  /** The horizon we tell: our DHT's, without the mesh peers we saw leave. */
  private toldHorizon (): string[] | null | undefined {
    const h = this.myHorizon()
    return h == null || this.departed.size === 0 ? h : h.filter(p => !this.departed.has(p))
  }

  /** Our horizon changed: every mesh peer hears the new one. */
  horizonChanged (): void {
    for (const s of this.senders.values()) s.horizonChanged()
  }

  /** Called when a peer's horizon changed or became unknown. */
  onHorizonChange (fn: () => void): () => void {
    this.horizonListeners.add(fn)
    return () => { this.horizonListeners.delete(fn) }
  }

  /**
   * Whether a DHT query could name an agent the mesh does not tell us about: a peer in our
   * routing table (`routing`) or in a mesh peer's horizon that is neither us nor a connected mesh
   * peer that sent us its inventory and horizon (nor a mesh peer that left) — or a mesh peer whose
   * horizon is "many".
   */
  beyond (routing: Iterable<string>, self: string): boolean {
    const known = (p: string): boolean => p === self || this.departed.has(p) || (this.horizons.has(p) && this.components.connections.isConnected(p))
    for (const p of routing) if (!known(p)) return true
    for (const [peer, h] of this.horizons) {
      if (!this.components.connections.isConnected(peer)) continue
      if (h === null) return true
      for (const p of h) if (!known(p)) return true
    }
    return false
  }

  /** Whether `peer` fetches `digest` now (its inventory says so): it wants our progress of it. */
  private wants (peer: string, digest: string): boolean {
    const e = this.table.get(peer, digest)
    return e !== undefined && e.fetching && !e.complete
  }

  /** `peer` told us of these digests: the ones it now fetches get our latest state of them, if it is behind. */
  private caughtUp (peer: string, digests: Iterable<string>): void {
    const s = this.senders.get(peer)
    if (s === undefined) return
    for (const d of digests) {
      if (!s.isBehind(d) || !this.wants(peer, d)) continue
      const entry = this.mirror.get(d)
      if (entry !== undefined) s.enqueue({ type: 'update', entry })
    }
  }

  /** Peers' horizons (or who counts as departed) changed: whoever decides whether the DHT is needed looks again. */
  private tellHorizonListeners (): void {
    for (const fn of this.horizonListeners) {
      try { fn() } catch (err) { this.log.warn({ err: errorMessage(err) }, 'horizon listener threw') }
    }
  }

  /** Peers we push our inventory to. */
  meshPeers (): string[] { return [...this.senders.keys()] }

  private fire (digests: Iterable<string>): void {
    for (const d of digests) {
      for (const l of this.listeners) {
        try { l(d) } catch (err) { this.log.warn({ err: errorMessage(err) }, 'router listener threw') }
      }
    }
  }
}
