// What `layerd status`, the status page and GET /_layerd/status show: the peers, the store against
// its quota, the blobs being fetched and the bytes served to clients by where they came from.
// Everything is read from counters kept up to date elsewhere: a poll every second costs nothing.

import { DEFAULTS } from '../config/defaults.js'
import type { Metrics } from '../metrics/metrics.js'
import type { PeerInfo, PeerNetwork } from '../p2p/types.js'
import type { AdminRoutes } from '../registry/admin.js'
import type { SessionManager } from '../session/manager.js'
import type { SessionState } from '../session/session.js'
import { SOURCES, sourceOf, type Source, type SourceBytes } from '../session/sources.js'
import type { BlobStore } from '../store/blob-store.js'

export interface StatusInit {
  version: string
  dataDir: string
  /** Upstream registries (never their credentials). */
  registries: Array<{ name: string, url: string, credentialed: boolean, [more: string]: unknown }>
  store: BlobStore
  sessions: SessionManager
  peers?: PeerNetwork
  metrics: Metrics
  /** store.maxBytes */
  maxBytes: number
  /** Sample the served-bytes counters this often for the page's chart. Default DEFAULTS.status.sampleMs (2 s). */
  sampleMs?: number
  /** Samples kept. Default DEFAULTS.status.samples (150: 5 min). */
  samples?: number
  /** More fields of the report that other parts of the agent own (e.g. the upstream rate cap). */
  extra?: () => Record<string, unknown>
}

/** A blob in the store, as the page lists them. */
export interface StoredBlob {
  digest: string
  size: number
  state: 'partial' | 'complete'
  presentBytes: number
  /** `registry/repository` it was first fetched for. */
  origin?: string
  pinned: boolean
  lastAccess: number
}

/** Blob bytes served to clients by source up to `t` (ms since the epoch). */
export type HistorySample = SourceBytes & { t: number }

export interface TransferStatus {
  digest: string
  size: number
  presentBytes: number
  /** Where its bytes came from so far; null before the first byte. */
  source: Source | 'mixed' | null
  bytes: SourceBytes
  state: SessionState
  /** Transfers (peer or upstream requests) running for it now. */
  activeTransfers: number
}

export interface StatusReport {
  version: string
  /** This agent's peer id (null without a peer network). */
  self: string | null
  dataDir: string
  /** When this report was made, and since when the agent runs (ms since the epoch). */
  time: number
  startedAt: number
  registries: StatusInit['registries']
  peers: PeerInfo[]
  store: { usedBytes: number, maxBytes: number, blobs: { partial: number, complete: number }, bytes: { partial: number, complete: number } }
  transfers: TransferStatus[]
  /** Blob bytes served to clients since start, by where they came from. */
  bytes: SourceBytes
  /** Blob bytes fetched since start from peers and from upstream registries. */
  fetched: { peer: number, upstream: number }
}

export class StatusSource {
  private readonly startedAt = Date.now()
  private readonly samples: HistorySample[] = []
  private timer?: NodeJS.Timeout

  constructor (private readonly init: StatusInit) {}

  /** GET /_layerd/status, /_layerd/history and /_layerd/blobs. */
  routes (): AdminRoutes {
    return {
      status: { method: 'GET', handle: async () => await this.report() },
      history: { method: 'GET', handle: async () => ({ sampleMs: this.sampleMs, samples: this.history() }) },
      blobs: { method: 'GET', handle: async () => await this.recentBlobs() }
    }
  }

  /**
   * The most recently used blobs of the store (this walks the index: the page asks every few
   * seconds, not every second).
   */
  async recentBlobs (limit = DEFAULTS.status.recentBlobs): Promise<{ total: number, blobs: StoredBlob[] }> {
    const all = await this.init.store.list()
    all.sort((a, b) => b.lastAccess - a.lastAccess || a.digest.localeCompare(b.digest))
    const blobs = all.slice(0, limit).map((b): StoredBlob => ({
      digest: b.digest,
      size: b.size,
      state: b.state,
      presentBytes: b.present.bytes,
      ...(b.origin !== undefined ? { origin: `${b.origin.registry}/${b.origin.repository}` } : {}),
      pinned: b.pinned,
      lastAccess: b.lastAccess
    }))
    return { total: all.length, blobs }
  }

  /**
   * Keep the last few minutes of the served-bytes counters, so the page shows what happened
   * before it was opened.
   */
  start (): void {
    if (this.timer !== undefined) return
    const sample = async (): Promise<void> => {
      this.samples.push({ t: Date.now(), ...await bySource(this.init.metrics.bytesServedBySource) })
      if (this.samples.length > (this.init.samples ?? DEFAULTS.status.samples)) this.samples.shift()
    }
    void sample()
    this.timer = setInterval(() => { void sample() }, this.sampleMs)
    this.timer.unref()
  }

  stop (): void {
    if (this.timer !== undefined) clearInterval(this.timer)
    this.timer = undefined
  }

  history (): HistorySample[] { return this.samples.map(s => ({ ...s })) }

  private get sampleMs (): number { return this.init.sampleMs ?? DEFAULTS.status.sampleMs }

  async report (): Promise<StatusReport> {
    const { store, sessions, peers, metrics } = this.init
    const transfers = sessions.active().filter(s => !s.isDone).map((s): TransferStatus => {
      const bytes = { ...s.received }
      return { digest: s.digest, size: s.size, presentBytes: s.presentBytes, source: sourceOf(bytes) ?? null, bytes, state: s.status, activeTransfers: s.activeTransfers }
    }).sort((a, b) => a.digest.localeCompare(b.digest))
    const fetched = await bySource(metrics.bytesBySource)
    return {
      ...this.init.extra?.(),
      version: this.init.version,
      self: peers?.peerId ?? null,
      dataDir: this.init.dataDir,
      time: Date.now(),
      startedAt: this.startedAt,
      registries: this.init.registries,
      peers: peers?.peers() ?? [],
      store: {
        usedBytes: store.stats.usedBytes,
        maxBytes: this.init.maxBytes,
        blobs: { ...store.stats.blobs },
        bytes: { ...store.stats.bytes }
      },
      transfers,
      bytes: await bySource(metrics.bytesServedBySource),
      fetched: { peer: fetched.peer, upstream: fetched.upstream }
    }
  }
}

async function bySource (c: Metrics['bytesBySource']): Promise<SourceBytes> {
  const out: SourceBytes = { local: 0, peer: 0, upstream: 0 }
  for (const v of (await c.get()).values) {
    const s = v.labels.source as Source
    if (SOURCES.includes(s)) out[s] += v.value
  }
  return out
}
