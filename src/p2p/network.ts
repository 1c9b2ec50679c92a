// The peer network facade: composes the p2p services (node, connections, dialer, mesh router,
// uploads, range and pieces) and implements PeerNetwork (src/p2p/types.ts). It also feeds the
// router from LocalBlobs, so callers never advertise by hand. Wire format: docs/PROTOCOL.md.

import '../polyfill.js'
import type { PrivateKey } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { Libp2p } from 'libp2p'
import { DEFAULTS } from '../config/defaults.js'
import { ConfigError, PeerRangeError } from '../errors.js'
import type { Logger } from '../log.js'
import type { Metrics } from '../metrics/metrics.js'
import type { ContentRouter } from '../routing/router.js'
import { kadDHT, passthroughMapper } from '@libp2p/kad-dht'
import { ping } from '@libp2p/ping'
import { connections, type Connections } from './connections.js'
import { DataPlane, type DataPlaneInit } from './data/index.js'
import { DhtRouter, type DhtRouterInit } from './dht-router.js'
import { HoldingsService } from './holdings.js'
import { OfficeRouter } from './office-router.js'
import { BackoffService } from './backoff.js'
import { TagsService, type TagAnswer, type TagQuery, type TagsInit } from './tags.js'
import { tagKey } from './dht-publish.js'
import { dialer, type Dialer, type DialerInit } from './dialer.js'
import { loadOrCreatePeerKey } from './identity.js'
import { meshRouter, type MeshRouter, type MeshRouterInit } from './mesh-router.js'
import { createNode, type NodeInit } from './node.js'
import { PeerHealth } from './peer-health.js'
import { piecesProtocol } from './pieces.js'
import { DHT_PROTOCOL, type ProtocolServiceInit } from './protocol.js'
import { rangeProtocol } from './range.js'
import type { InventoryChange, LocalBlobs, PeerInfo, PeerNetwork, PeerTransfers } from './types.js'
import { uploads, type Uploads, type UploadsInit } from './uploads.js'
import { verifiedRange } from './verify.js'

/** Every service's options, plus what the facade itself needs. Defaults: DEFAULTS.p2p. */
export interface PeerNetworkInit extends Omit<NodeInit, 'privateKey' | 'logger'>, Pick<DialerInit, 'peers'>, MeshRouterInit, UploadsInit, ProtocolServiceInit, Pick<DataPlaneInit, 'dataPort' | 'pieceBudgetBytes' | 'thread'>, DhtRouterInit {
  /**
   * Content routing across subnets on kad-dht, next to the mesh of direct neighbours; false = the
   * mesh alone (every connected peer gets our whole inventory). @default DEFAULTS.p2p.dht
   */
  dht?: boolean
  /** K of the office DHT. @default DEFAULTS.p2p.dhtKBucketSize */
  dhtKBucketSize?: number
  /** Provider record lifetime and republish period. @default DEFAULTS.p2p.dhtRecordTtlMs / dhtReprovideMs */
  dhtRecordTtlMs?: number
  dhtReprovideMs?: number
  /** Bulk bytes over the data plane (HTTPS with a pre-shared key); false = libp2p only. @default true */
  dataPlane?: boolean
  /** What this agent knows of a tag (and holds the manifest of), for neighbours whose upstream is away. */
  localTags?: TagsInit['known']
  /**
   * A neighbour was rate-limited by a registry: hold our requests to it until `until`. True when
   * that lengthened our pause (the notice is then passed on).
   */
  heardBackoff?: (registry: string, until: number) => boolean
  /** Directory for `peer-key` (Ed25519, mode 0600, created on first start). */
  dataDir: string
  /** What we hold; the network advertises it and serves its bytes. */
  local: LocalBlobs
  metrics: Metrics
  logger: Logger
}

/** PeerNetwork with its routers and the libp2p node (tests, diagnostics). */
export interface LayerdPeerNetwork extends PeerNetwork {
  readonly router: ContentRouter
  readonly mesh: MeshRouter
  readonly dht: DhtRouter | undefined
  /** The libp2p node, from start() on. */
  readonly libp2p: Libp2p | undefined
  /** The data server's port, from start() on (undefined without a data plane). */
  readonly dataPort: number | undefined
}

export function createPeerNetwork (init: PeerNetworkInit): LayerdPeerNetwork {
  return new Network(validate(init))
}

function validate (init: PeerNetworkInit): PeerNetworkInit {
  const check = (key: keyof PeerNetworkInit & keyof typeof DEFAULTS.p2p, allowZero = false): void => {
    const v = init[key] ?? DEFAULTS.p2p[key]
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || (!allowZero && v === 0)) throw new ConfigError(`${key} must be a ${allowZero ? 'non-negative' : 'positive'} number`)
  }
  for (const key of ['mdnsIntervalMs', 'maxUploadsPerPeer', 'maxUploadsTotal', 'maxFrameBytes', 'requestTimeoutMs', 'redialMinMs', 'redialMaxMs', 'maxInventoryEntries'] as const) check(key)
  check('uploadBytesPerSecond', true)
  check('inventoryThrottleMs', true)
  if ((init.maxFrameBytes ?? DEFAULTS.p2p.maxFrameBytes) < 1024) throw new ConfigError('maxFrameBytes must be at least 1024')
  return init
}

/**
 * What the services share, in the way of js-libp2p's components: each service reads the fields
 * it declares. `libp2p` exists from start() on (the node is built there), so services only touch
 * it in start() and later.
 */
class Components {
  node?: Libp2p
  connections!: Connections
  uploads!: Uploads
  router!: MeshRouter

  constructor (readonly logger: Logger, readonly metrics: Metrics, readonly health: PeerHealth, readonly local: LocalBlobs) {}

  get libp2p (): Libp2p {
    if (this.node === undefined) throw new PeerRangeError('p2p is not running')
    return this.node
  }
}

interface Service { start: () => Promise<void>, stop: () => Promise<void> }

class Network implements LayerdPeerNetwork {
  readonly peerId: string
  readonly health: PeerHealth
  readonly router: ContentRouter
  readonly mesh: MeshRouter
  readonly dht: DhtRouter | undefined
  readonly transfers: PeerTransfers
  private readonly privateKey: PrivateKey
  private readonly components: Components
  private readonly connections: Connections
  private readonly dialer: Dialer
  private readonly data?: DataPlane
  private readonly tags: TagsService
  private readonly backoff: BackoffService
  /** In start order; stopped in reverse. */
  private readonly services: Service[]
  private readonly log: Logger
  private started = false
  private stopped = false
  private unfollow?: () => void

  constructor (private readonly init: PeerNetworkInit) {
    this.log = init.logger.child({ component: 'p2p' })
    this.health = new PeerHealth({ logger: this.log })
    const c = this.components = new Components(this.log, init.metrics, this.health, init.local)
    this.connections = c.connections = connections(c)
    c.uploads = uploads(c, init)
    const useDht = init.dht ?? DEFAULTS.p2p.dht
    this.mesh = c.router = meshRouter(c, { ...init, maxMeshPeers: useDht ? (init.maxMeshPeers ?? DEFAULTS.p2p.maxMeshPeers) : Infinity })
    let holdings: HoldingsService | undefined
    if (useDht) {
      const dhtRef: { router?: DhtRouter } = {}
      holdings = new HoldingsService(c, {
        mine: (d) => dhtRef.router?.mine.get(d),
        theirs: (peer, d, h) => { dhtRef.router?.theirs(peer, d, h) },
        ended: (peer, d) => { dhtRef.router?.ended(peer, d) },
        throttleMs: init.inventoryThrottleMs ?? DEFAULTS.p2p.inventoryThrottleMs,
        timeoutMs: init.dialTimeoutMs ?? DEFAULTS.p2p.dhtDialTimeoutMs
      })
      // The DHT is worth its work (records published, lookups made) only when it can name agents
      // beyond our mesh: the mesh already tells us everything of the others, for far less. Each
      // agent tells its mesh peers who its DHT could name (its horizon: routing table and the
      // providers of records it stores); when our routing table and every mesh peer's horizon hold
      // only mesh peers, no DHT query could find a holder the mesh does not already show us.
      const bootstrapped = (init.peers ?? []).length > 0
      const useful = (): boolean => {
        const routing = this.dht?.horizon.routingPeers()
        return routing == null || this.mesh.beyond(routing, this.peerId)
      }
      this.dht = dhtRef.router = new DhtRouter({ get libp2p () { return c.libp2p as any }, connections: this.connections, health: this.health, holdings, logger: this.log }, { ...init, needed: useful })
      const dht = this.dht
      this.mesh.tellHorizon(() => dht.horizon.peers())
      dht.horizon.onChange(() => { this.mesh.horizonChanged(); dht.neededChanged() })
      this.mesh.onHorizonChange(() => { dht.neededChanged() })
      this.router = new OfficeRouter(this.mesh, this.dht, bootstrapped, useful)
    } else {
      this.router = this.mesh
    }
    const range = rangeProtocol(c, init)
    const pieces = piecesProtocol(c, init)
    this.dialer = dialer(c, { ...init, dialTimeoutMs: init.requestTimeoutMs })
    // Last: a configuration error (a bad static peer) must not leave a new identity behind.
    this.privateKey = loadOrCreatePeerKey(init.dataDir, this.log)
    this.peerId = peerIdFromPrivateKey(this.privateKey).toString()
    const libp2pRange: typeof range.fetchRange = (peerId, digest, start, end, signal) => range.fetchRange(peerId, digest, start, end, signal)
    // Bulk bytes over the data plane (TLS 1.3 PSK, src/p2p/data/); the range protocol stays as
    // its fallback for peers without one.
    this.data = init.dataPlane === false
      ? undefined
      : new DataPlane(c, { ...init, self: this.peerId, listen: init.listen ?? [...DEFAULTS.p2p.listen] }, libp2pRange)
    this.tags = new TagsService(c, { ...init, known: async (q) => await (init.localTags?.(q) ?? Promise.resolve(undefined)) })
    this.backoff = new BackoffService(c, {
      ...init,
      heard: (registry, until, from) => {
        if (init.heardBackoff?.(registry, until) !== true) return
        this.log.info({ registry, from, seconds: Math.ceil((until - Date.now()) / 1000) }, 'a neighbour was rate-limited: passing it on')
        void this.backoff.tell(this.connections.peers().filter(p => p !== from), { registry, until }, DEFAULTS.p2p.requestTimeoutMs)
      }
    })
    this.services = [this.connections, c.uploads, this.mesh, range, pieces, this.tags, this.backoff, ...(this.data !== undefined ? [this.data] : []), ...(holdings !== undefined && this.dht !== undefined ? [holdings, this.dht] : []), this.dialer]
    const data = this.data
    this.transfers = {
      fetchRange: data !== undefined
        ? (peerId, digest, start, end, signal, check) => data.fetchRange(peerId, digest, start, end, signal, check)
        : (peerId, digest, start, end, signal, check) => check === undefined
            ? libp2pRange(peerId, digest, start, end, signal)
            : verifiedRange((s, e) => libp2pRange(peerId, digest, s, e, signal), start, end, check),
      fetchPieceHashes: async (peerId, digest, signal) => await pieces.fetchPieceHashes(peerId, digest, signal)
    }
  }

  get libp2p (): Libp2p | undefined { return this.components.node }
  get dataPort (): number | undefined { return this.data?.port }

  // ---------------------------------------------------------------- the office while upstream is away

  /** The newest digest the office knows for a tag: connected agents and the tag's DHT providers. */
  async resolveTag (q: TagQuery, timeoutMs = 2 * (this.init.lookupTimeoutMs ?? DEFAULTS.p2p.dhtLookupTimeoutMs)): Promise<TagAnswer | undefined> {
    const peers = new Set(this.connections.peers())
    for (const p of await this.dht?.providersOf(tagKey(q.registry, q.repository, q.tag), timeoutMs / 2) ?? []) peers.add(p)
    return await this.tags.resolve([...peers].filter(p => !this.health.isBanned(p)), q, timeoutMs / 2)
  }

  /** We resolved a tag upstream (and hold its manifest): agents on other subnets can find it. */
  tagResolved (q: TagQuery): void {
    this.dht?.provideKey(tagKey(q.registry, q.repository, q.tag))
  }

  /** A registry rate-limited us until `until`: tell every connected agent (one hop). */
  tellBackoff (registry: string, until: number): void {
    void this.backoff.tell(this.connections.peers(), { registry, until }, DEFAULTS.p2p.requestTimeoutMs)
  }

  multiaddrs (): string[] {
    return this.components.node?.getMultiaddrs().map(a => a.toString()) ?? []
  }

  neighbours (): number { return this.connections.peers().length }

  peers (): PeerInfo[] {
    return this.connections.peers().map(peer => {
      const info: PeerInfo = { peerId: peer, addresses: this.connections.addresses(peer), foundBy: this.connections.foundBy(peer), mesh: this.mesh.meshPeers().includes(peer), ...this.mesh.stats(peer) }
      const until = this.health.bannedUntil(peer)
      if (until !== undefined) info.bannedUntil = until
      return info
    })
  }

  async start (): Promise<void> {
    if (this.started || this.stopped) throw new Error('PeerNetwork.start() called twice')
    this.started = true
    try {
      // Before the node: the first peer then gets our whole inventory in its snapshot.
      this.unfollow = await followLocal(this.init.local, this.router)
      const { init } = this
      const services = { ...(this.dht !== undefined ? dhtServices(init) : {}), ...init.services }
      const node = await createNode({ privateKey: this.privateKey, listen: init.listen, secret: init.secret, mdns: init.mdns, mdnsIntervalMs: init.mdnsIntervalMs, serviceTag: init.serviceTag, services, peerDiscovery: init.peerDiscovery, logger: this.log, onMdnsPeer: (p) => { this.dialer.mdnsPeers.add(p); this.connections.noteFoundBy(p, 'mdns') } })
      this.components.node = node
      slowClosestPeerTagger(node)
      // Handlers and listeners are in place before the first connection.
      for (const s of this.services) await s.start()
      await node.start()
      this.dialer.afterStart()
      this.log.info({ peerId: this.peerId, addresses: this.multiaddrs(), dataPort: this.data?.port, mdns: init.mdns ?? DEFAULTS.p2p.mdns, staticPeers: this.dialer.peers.length }, 'p2p started')
    } catch (err) {
      await this.stop().catch(() => {})
      throw err
    }
  }

  async stop (): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    this.unfollow?.()
    // Each stop() aborts its work at once and resolves when its tasks have unwound; the node's
    // stop ends the streams those tasks may still wait on, so it runs in between.
    const stopping = [...this.services].reverse().map(async s => { await s.stop() })
    this.health.stop()
    try {
      await this.components.node?.stop()
    } finally {
      await Promise.allSettled(stopping)
      this.log.info('p2p stopped')
    }
  }
}

/**
 * Advertise what `local` holds and follow its changes; returns the unsubscribe function.
 * Changes that arrive while the snapshot is read are applied after it, in order.
 */
async function followLocal (local: LocalBlobs, router: ContentRouter): Promise<() => void> {
  const apply = (c: InventoryChange): void => {
    if (c.type === 'remove') router.withdraw(c.digest)
    else router.advertise(c.entry)
  }
  let early: InventoryChange[] | undefined = []
  const off = local.onChange(c => { if (early !== undefined) early.push(c); else apply(c) })
  try {
    for (const e of await local.inventory()) router.advertise(e)
  } catch (err) {
    off()
    throw err
  }
  for (const c of early) apply(c)
  early = undefined
  return off
}

/** How often kad-dht re-tags its closest peers (its own default: 5 s). */
const CLOSEST_PEER_TAGS_MS = 60_000

/**
 * kad-dht tags the peers closest to us every 5 s so a connection manager pruning connections
 * keeps them; each pass rebuilds two peer sets (a key decode per peer), about a tenth of what
 * twenty idle agents spent. An office is far below libp2p's connection limits, so a minute is
 * plenty. The interval is not part of kad-dht's init options: set on its tagger before start,
 * when the version in use has one.
 */
function slowClosestPeerTagger (node: Libp2p): void {
  const tagger = (node.services as { dht?: { routingTable?: { closestPeerTagger?: { refreshInterval?: unknown } } } }).dht?.routingTable?.closestPeerTagger
  if (tagger !== undefined && typeof tagger.refreshInterval === 'number') tagger.refreshInterval = CLOSEST_PEER_TAGS_MS
}

/** Peers a DHT query asks at once. */
const DHT_ALPHA = 3

/** The least time a DHT query gives a peer to answer (adaptive above it, up to dhtDialTimeout). */
const DHT_QUERY_MIN_TIMEOUT_MS = 300

/** The office DHT: our own protocol, every agent a server, every address kept (it is a LAN). */
function dhtServices (init: PeerNetworkInit): Record<string, any> {
  const d = DEFAULTS.p2p
  const ttl = init.dhtRecordTtlMs ?? d.dhtRecordTtlMs
  const every = init.dhtReprovideMs ?? d.dhtReprovideMs
  return {
    ping: ping(),
    dht: kadDHT({
      protocol: DHT_PROTOCOL,
      clientMode: false,
      peerInfoMapper: passthroughMapper,
      // Lookups do not wait for the first self-query (it starts 1 s after start): an agent
      // pulling right after it started paid that second on its first blobs. The routing table
      // already holds the peers we are connected to.
      allowQueryWithZeroPeers: true,
      kBucketSize: init.dhtKBucketSize ?? d.dhtKBucketSize,
      // Classic Kademlia fan-out (kad-dht's defaults are for the public IPFS network: 10 paths of
      // 10 in parallel). Office agents are authenticated by the secret: one path is enough, and a
      // query then touches a handful of agents instead of most of the office.
      alpha: DHT_ALPHA,
      disjointPaths: 1,
      // A query waits for its slowest peer: on a LAN a live agent answers in milliseconds, so
      // one that does not within a fraction of a second is gone (its records outlive it).
      networkDialTimeout: { minTimeout: DHT_QUERY_MIN_TIMEOUT_MS, maxTimeout: init.dialTimeoutMs ?? d.dhtDialTimeoutMs },
      providers: { provideValidity: Math.ceil(ttl / 1000), cleanupInterval: Math.ceil(every / 1000) },
      // Republish a record when it would expire within the period: about every `every`.
      reprovide: { validity: ttl, threshold: ttl - every, interval: Math.max(1000, Math.floor(every / 2)) }
    })
  }
}
