import { access, constants, mkdir, readFile } from 'node:fs/promises'
import type { AddressInfo } from 'node:net'
import { ConfigError, errorMessage } from './errors.js'
import type { Logger } from './log.js'
import { createMetrics, type Metrics } from './metrics/metrics.js'
import type { LayerdConfig } from './config/schema.js'
import { DOCKER_HUB } from './oci/reference.js'
import { RegistryServer } from './registry/server.js'
import { SessionManager } from './session/manager.js'
import { BlobStore } from './store/blob-store.js'
import { collectGarbage, type GcReport } from './store/gc.js'
import { createUpstream } from './upstream/client.js'
import { createPeerNetwork, legacyView } from './p2p/index.js'
import type { PeerNetwork } from './p2p/types.js'
import { localBlobs } from './session/local-blobs.js'
import type { Upstream, UpstreamRegistry } from './upstream/types.js'

export interface AgentInit {
  config: LayerdConfig
  /** Resolved data directory. */
  dataDir: string
  logger: Logger
  metrics?: Metrics
}

export interface Agent {
  readonly address: AddressInfo
  readonly store: BlobStore
  readonly sessions: SessionManager
  readonly peers?: PeerNetwork
  gc (): Promise<GcReport>
  stop (): Promise<void>
}

/** Read credentials from their files; the passwords stay in memory only. */
export async function resolveRegistries (config: LayerdConfig): Promise<Array<UpstreamRegistry & { shareable: boolean }>> {
  const out: Array<UpstreamRegistry & { shareable: boolean }> = []
  const entries: LayerdConfig['upstreams'] = { [DOCKER_HUB.name]: { url: DOCKER_HUB.url, shareable: false }, ...config.upstreams }
  for (const [name, u] of Object.entries(entries)) {
    let credentials
    if (u.username !== undefined && u.passwordFile !== undefined) {
      let password: string
      try { password = (await readFile(u.passwordFile, 'utf8')).replace(/\r?\n$/, '') } catch (err: any) {
        throw new ConfigError(`upstreams.${name}.passwordFile: cannot read ${u.passwordFile} (${err?.code ?? 'error'})`)
      }
      credentials = { username: u.username, password }
    }
    out.push({ name, url: u.url.replace(/\/+$/, ''), credentials, shareable: u.shareable })
  }
  return out
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

export function parseListen (listen: string): { host: string, port: number } {
  const i = listen.lastIndexOf(':')
  const host = listen.slice(0, i).replace(/^\[(.*)\]$/, '$1')
  const port = Number(listen.slice(i + 1))
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ConfigError(`listen: invalid port in ${listen}`)
  return { host, port }
}

/** Start an agent: store, upstream client, fetch sessions, HTTP edge, periodic GC. */
export async function startAgent (init: AgentInit): Promise<Agent> {
  const { config, logger } = init
  const metrics = init.metrics ?? createMetrics()
  await prepareDataDir(init.dataDir)
  const registries = await resolveRegistries(config)
  if (!registries.some(r => r.name === config.defaultRegistry)) {
    throw new ConfigError(`defaultRegistry: ${config.defaultRegistry} has no upstream; add --upstream ${config.defaultRegistry}=URL`)
  }
  const store = await BlobStore.open({ dataDir: init.dataDir, logger, metrics, syncBytes: config.store.syncBytes })
  const u = config.upstream
  const upstream: Upstream = createUpstream({
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
    breakerOpenMs: u.breakerOpen
  })
  const shareableRegistries = new Set(registries.filter(r => r.credentials === undefined || r.shareable).map(r => r.name))
  const shareable = (registry: string): boolean => shareableRegistries.has(registry)
  let peers: PeerNetwork | undefined
  let sessionsRef: SessionManager | undefined
  if (config.p2p.enabled) {
    let secret: Uint8Array | undefined
    if (config.p2p.secretFile !== undefined) {
      let text: string
      try { text = (await readFile(config.p2p.secretFile, 'utf8')).trim() } catch (err: any) {
        await store.close()
        throw new ConfigError(`p2p.secretFile: cannot read ${config.p2p.secretFile} (${err?.code ?? 'error'})`)
      }
      if (text.length < 16) { await store.close(); throw new ConfigError(`p2p.secretFile: ${config.p2p.secretFile} holds no usable secret (make one with \`layerd secret\`)`) }
      secret = Buffer.from(text, 'utf8')
    }
    peers = createPeerNetwork({
      dataDir: init.dataDir,
      listen: config.p2p.listen,
      peers: config.p2p.peers,
      mdns: config.p2p.mdns,
      mdnsIntervalMs: config.p2p.mdnsInterval,
      secret,
      local: localBlobs(store, {
        isFetching: (d) => sessionsRef?.isFetching(d) ?? false,
        claimed: (d) => sessionsRef?.claimed(d) ?? [],
        onFetchingChange: (fn) => sessionsRef?.onFetchingChange(fn) ?? (() => {})
      }, shareable),
      metrics,
      logger,
      maxUploadsPerPeer: config.p2p.maxUploadsPerPeer,
      maxUploadsTotal: config.p2p.maxUploadsTotal,
      uploadBytesPerSecond: config.p2p.uploadRate
    })
  }
  const sessions = new SessionManager({
    store,
    upstream,
    metrics,
    logger,
    peers: peers !== undefined ? legacyView(peers) : undefined,
    shareable,
    session: {
      maxUpstreamStreams: config.fetch.maxUpstreamStreams,
      segmentBytes: config.fetch.segmentBytes,
      detachedTimeoutMs: config.fetch.detachedTimeout
    }
  })
  sessionsRef = sessions
  if (peers !== undefined) {
    try { await peers.start() } catch (err: any) {
      await sessions.stop(); await upstream.close(); await store.close()
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

  const server = new RegistryServer({
    store,
    sessions,
    upstream,
    metrics,
    logger,
    defaultRegistry: config.defaultRegistry,
    knownRegistries: () => registries.map(r => r.name),
    adminRoutes: {
      status: async () => ({
        version: process.env.npm_package_version,
        dataDir: init.dataDir,
        registries: registries.map(r => ({ name: r.name, url: r.url, credentialed: r.credentials !== undefined })),
        sessions: sessions.active().map(s => ({ digest: s.digest, size: s.size, transfers: s.activeTransfers }))
      }),
      peers: async () => ({ self: peers?.peerId ?? null, enabled: peers !== undefined, peers: peers?.peers() ?? [] }),
      gc: async (req) => {
        if (req.method !== 'POST') return { error: 'use POST' }
        return await gc()
      }
    }
  })
  const { host, port } = parseListen(config.listen)
  let address: AddressInfo
  try {
    address = await server.listen(host, port)
  } catch (err: any) {
    await sessions.stop()
    await peers?.stop()
    await upstream.close()
    await store.close()
    if (err?.code === 'EADDRINUSE') throw new ConfigError(`listen ${config.listen}: address already in use`)
    throw new ConfigError(`listen ${config.listen}: ${err?.code ?? errorMessage(err)}`)
  }

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
      await server.close()
      await sessions.stop()
      await peers?.stop()
      await gcRunning?.catch(() => {})
      await upstream.close()
      await store.close()
    }
  }
}
