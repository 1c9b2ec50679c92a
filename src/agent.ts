// One layerd agent: the store, the upstream client, the peer network, the fetch sessions, the
// HTTP edge and periodic GC, wired together. Everything a part needs is passed in here.

import { access, constants, mkdir, readFile } from 'node:fs/promises'
import type { AddressInfo } from 'node:net'
import { DEFAULTS } from './config/defaults.js'
import { parseListen, resolveRegistries, type ResolvedRegistry } from './config/registries.js'
import type { LayerdConfig } from './config/schema.js'
import { ConfigError, errorMessage } from './errors.js'
import type { Logger } from './log.js'
import { createMetrics, type Metrics } from './metrics/metrics.js'
import { createPeerNetwork } from './p2p/index.js'
import { DataThread } from './thread/data-thread.js'
import type { LocalBlobs, PeerNetwork } from './p2p/types.js'
import type { AdminRoutes } from './registry/admin.js'
import { RegistryServer } from './registry/server.js'
import { localBlobs } from './session/local-blobs.js'
import { SessionManager } from './session/manager.js'
import { sharingPolicy, type SharingPolicy } from './session/sharing.js'
import { Preheater } from './ops/preheat.js'
import { statusPage } from './status/page.js'
import { StatusSource } from './status/status.js'
import { BlobStore } from './store/blob-store.js'
import { collectGarbage, type GcReport } from './store/gc.js'
import { createUpstream } from './upstream/client.js'
import { proxyRoutes, type ProxyRoutes } from './upstream/proxy.js'
import type { Upstream } from './upstream/types.js'
import { VERSION } from './version.js'

export { parseListen, resolveRegistries }

export interface AgentInit {
  config: LayerdConfig
  /** Resolved data directory. */
  dataDir: string
  logger: Logger
  metrics?: Metrics
  /**
   * What this agent offers its peers, as built from the store; a caller may wrap it (the e2e
   * tests make a peer that corrupts its uploads this way). Default: unchanged.
   */
  wrapLocal?: (local: LocalBlobs) => LocalBlobs
}

export interface Agent {
  readonly address: AddressInfo
  readonly store: BlobStore
  readonly sessions: SessionManager
  readonly peers?: PeerNetwork
  gc (): Promise<GcReport>
  stop (): Promise<void>
}

/** Fail early, in one line, when the data directory cannot be used. */
async function prepareDataDir (dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true })
    await access(dir, constants.W_OK | constants.R_OK)
  } catch (err: any) {
    throw new ConfigError(`data directory ${dir} is not writable (${err?.code ?? errorMessage(err)})`)
  }
}

async function readSecret (file: string): Promise<Uint8Array> {
  let text: string
  try { text = (await readFile(file, 'utf8')).trim() } catch (err: any) {
    throw new ConfigError(`p2p.secretFile: cannot read ${file} (${err?.code ?? 'error'})`)
  }
  if (text.length < 16) throw new ConfigError(`p2p.secretFile: ${file} holds no usable secret (make one with \`layerd secret\`)`)
  return Buffer.from(text, 'utf8')
}

function upstreamOf (config: LayerdConfig, registries: ResolvedRegistry[], proxy: ProxyRoutes, metrics: Metrics, logger: Logger): Upstream {
  const u = config.upstream
  return createUpstream({
    registries,
    metrics,
    logger,
    connectTimeoutMs: u.connectTimeout,
    headersTimeoutMs: u.headersTimeout,
    noProgressTimeoutMs: u.noProgressTimeout,
    maxAttempts: u.maxAttempts,
    backoffBaseMs: u.backoffBase,
    backoffMaxMs: u.backoffMax,
    breakerThreshold: u.breakerThreshold,
    breakerOpenMs: u.breakerOpen,
    proxy,
    bytesPerSecond: u.rate
  })
}

/** Start an agent: store, upstream client, peers, fetch sessions, HTTP edge, periodic GC. */
export async function startAgent (init: AgentInit): Promise<Agent> {
  const { config, logger } = init
  const metrics = init.metrics ?? createMetrics()
  await prepareDataDir(init.dataDir)
  const registries = await resolveRegistries(config)
  if (!registries.some(r => r.name === config.defaultRegistry)) {
    throw new ConfigError(`defaultRegistry: ${config.defaultRegistry} has no upstream; add --upstream ${config.defaultRegistry}=URL`)
  }
  // The config keys win over HTTPS_PROXY / HTTP_PROXY / NO_PROXY; a bad proxy URL stops the start.
  const proxy = proxyRoutes({ proxy: config.upstream.proxy, noProxy: config.upstream.noProxy })
  const routes = proxy.describe()
  if (routes.https !== null || routes.http !== null) logger.info({ proxy: routes }, 'upstream requests go through a proxy')
  const secret = config.p2p.enabled && config.p2p.secretFile !== undefined ? await readSecret(config.p2p.secretFile) : undefined
  // Hashing and peer transfers share one worker thread (src/thread/data-thread.ts).
  const thread = new DataThread()
  const store = await BlobStore.open({ dataDir: init.dataDir, logger, metrics, syncBytes: config.store.syncBytes, thread })
  const upstream = upstreamOf(config, registries, proxy, metrics, logger)
  const sharing: SharingPolicy = sharingPolicy(registries.map(r => ({ name: r.name, credentialed: r.credentials !== undefined, shareable: r.shareable })))
  // The inventory needs the sessions' fetching state and the sessions need the network: bind late.
  let sessionsRef: SessionManager | undefined
  let peers: PeerNetwork | undefined
  if (config.p2p.enabled) {
    const local = localBlobs(store, {
      isFetching: (d) => sessionsRef?.isFetching(d) ?? false,
      claimed: (d) => sessionsRef?.claimed(d) ?? [],
      onFetchingChange: (fn) => sessionsRef?.onFetchingChange(fn) ?? (() => {})
    }, sharing)
    peers = createPeerNetwork({
      dataDir: init.dataDir,
      listen: config.p2p.listen,
      peers: config.p2p.peers,
      mdns: config.p2p.mdns,
      mdnsIntervalMs: config.p2p.mdnsInterval,
      secret,
      local: init.wrapLocal?.(local) ?? local,
      metrics,
      logger,
      maxUploadsPerPeer: config.p2p.maxUploadsPerPeer,
      maxUploadsTotal: config.p2p.maxUploadsTotal,
      uploadBytesPerSecond: config.p2p.uploadRate,
      dataPlane: config.p2p.dataPlane,
      dataPort: config.p2p.dataPort,
      thread,
      dht: config.p2p.dht,
      maxMeshPeers: config.p2p.maxMeshPeers,
      lookupTimeoutMs: config.p2p.dhtLookupTimeout,
      dialTimeoutMs: config.p2p.dhtDialTimeout,
      dhtKBucketSize: config.p2p.dhtKBucketSize,
      dhtRecordTtlMs: config.p2p.dhtRecordTtl,
      dhtReprovideMs: config.p2p.dhtReprovide,
      // While a neighbour's upstream is away, it may ask which digest we know for a tag.
      localTags: async (q) => {
        const t = await store.getTag(q.registry, q.repository, q.tag)
        const info = t === undefined ? undefined : await store.stat(t.digest)
        if (t === undefined || info?.state !== 'complete' || !sharing.blob(info)) return undefined
        return { digest: t.digest, mediaType: t.mediaType, updatedAt: t.updatedAt }
      },
      heardBackoff: (registry, until) => { try { return upstream.pause(registry, until) } catch { return false /* not a registry of ours */ } }
    })
    const net = peers
    upstream.onRateLimited((registry, until) => { net.tellBackoff(registry, until) })
  }
  const sessions = new SessionManager({
    store,
    upstream,
    metrics,
    logger,
    peers,
    sharing,
    session: {
      maxUpstreamStreams: config.fetch.maxUpstreamStreams,
      segmentBytes: config.fetch.segmentBytes,
      detachedTimeoutMs: config.fetch.detachedTimeout
    }
  })
  sessionsRef = sessions
  const closeAll = async (): Promise<void> => {
    await sessions.stop()
    await peers?.stop()
    await upstream.close()
    await store.close()
  }
  if (peers !== undefined) {
    try { await peers.start() } catch (err: any) {
      await closeAll()
      throw new ConfigError(`p2p: cannot start the peer network (${err?.code ?? errorMessage(err)})`)
    }
  }
  const pinned = new Set(config.store.pinned)
  for (const d of pinned) await store.setPinned(d, true).catch(() => {})

  let gcRunning: Promise<GcReport> | undefined
  const gc = async (): Promise<GcReport> => {
    gcRunning ??= collectGarbage(store, {
      maxBytes: config.store.maxBytes,
      partialTtlMs: config.store.partialTtl,
      pinned,
      busy: (d) => store.inUse(d) || sessions.isFetching(d)
    }, logger).finally(() => { gcRunning = undefined })
    return await gcRunning
  }

  const status = new StatusSource({
    version: VERSION,
    dataDir: init.dataDir,
    registries: registries.map(r => ({ name: r.name, url: r.url, credentialed: r.credentials !== undefined, privateCa: r.ca !== undefined })),
    store, sessions, peers, metrics, maxBytes: config.store.maxBytes,
    extra: () => ({ upstream: { rate: config.upstream.rate, proxy: proxy.describe() } })
  })
  const knownRegistries = (): string[] => registries.map(r => r.name)
  const edge = { store, sessions, upstream, metrics, logger, maxManifestBytes: DEFAULTS.upstream.maxManifestBytes, office: peers }
  const preheat = new Preheater({ edge, defaultRegistry: config.defaultRegistry, knownRegistries })
  const adminRoutes: AdminRoutes = {
    ...status.routes(),
    ...preheat.routes(),
    peers: { method: 'GET', handle: async () => ({ self: peers?.peerId ?? null, enabled: peers !== undefined, peers: peers?.peers() ?? [] }) },
    gc: { method: 'POST', handle: gc }
  }
  const server = new RegistryServer({
    store,
    sessions,
    upstream,
    metrics,
    logger,
    defaultRegistry: config.defaultRegistry,
    knownRegistries,
    office: peers,
    adminRoutes,
    page: statusPage(status)
  })
  const { host, port } = parseListen(config.listen)
  let address: AddressInfo
  try {
    address = await server.listen(host, port)
  } catch (err: any) {
    await closeAll()
    if (err?.code === 'EADDRINUSE') throw new ConfigError(`listen ${config.listen}: address already in use`)
    throw new ConfigError(`listen ${config.listen}: ${err?.code ?? errorMessage(err)}`)
  }

  status.start()
  let gcTimer: NodeJS.Timeout | undefined
  if (config.store.gcInterval > 0) {
    gcTimer = setInterval(() => { gc().catch(err => logger.error({ err: errorMessage(err) }, 'gc failed')) }, config.store.gcInterval)
    gcTimer.unref()
  }

  return {
    address,
    store,
    sessions,
    peers,
    gc,
    async stop () {
      if (gcTimer !== undefined) clearInterval(gcTimer)
      status.stop()
      preheat.stop()
      await server.close()
      await sessions.stop()
      await peers?.stop()
      await gcRunning?.catch(() => {})
      await upstream.close()
      await store.close()
    }
  }
}
