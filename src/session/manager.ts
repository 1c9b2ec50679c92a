import { DEFAULTS } from '../config/defaults.js'
import { AbortedError, DigestMismatchError, StoreFullError } from '../errors.js'
import type { Logger } from '../log.js'
import type { Metrics } from '../metrics/metrics.js'
import type { PeerSources } from '../p2p/types.js'
import type { BlobEntry, BlobStore } from '../store/blob-store.js'
import type { Upstream } from '../upstream/types.js'
import { FetchSession, type BlobContext, type SessionInit } from './session.js'
import { resolveSessionOptions } from './options.js'
import { PeerSlots } from './peer-slots.js'
import { SHARE_ALL, type SharingPolicy } from './sharing.js'
import { letGo } from '../util/lent.js'

export type { BlobContext, SessionInit }

export interface SessionManagerInit {
  store: BlobStore
  upstream: Upstream
  metrics: Metrics
  logger: Logger
  session?: SessionInit
  /** The office; without it every byte comes from upstream. */
  peers?: PeerSources
  /** Which registries' blobs may be exchanged with peers. Default: all. */
  sharing?: SharingPolicy
  /**
   * With neighbours around, a cold blob starts with a lead request of this many bytes, and the
   * rest is planned once it is done (see FetchSession.lead). Default 256 KiB.
   */
  leadBytes?: number
  /** A cold blob this small (size known from its manifest) is fetched in one request. Default 4 MiB (one piece). */
  smallBlobBytes?: number
  /** After a whole-blob mismatch with bytes from peers, fetch that digest from upstream only for this long. Default 10 min. */
  peerQuarantineMs?: number
}

/** Size hints kept (a few hundred bytes each). */
const SIZE_HINTS = 10_000

export interface BlobRead {
  size: number
  /** The bytes in order, in batches of chunks (write each batch in one go). */
  body: AsyncIterable<Buffer[]>
}

/**
 * Owns the fetch sessions: at most one per digest, created on first demand and shared by every
 * later reader. A blob the store has never seen is opened with an upstream GET from byte 0,
 * whose response tells the size and becomes the session's first transfer (no extra HEAD).
 */
export class SessionManager {
  private readonly sessions = new Map<string, FetchSession>()
  /** Peer transfers running over all sessions (each holds pieces in memory: bounded agent-wide). */
  private readonly peerSlots: PeerSlots
  private readonly opening = new Map<string, Promise<FetchSession>>()
  private readonly noPeers = new Map<string, number>()
  private readonly sizes = new Map<string, number>()
  private readonly listeners = new Set<(digest: string, fetching: boolean) => void>()
  private stopped = false
  private unsubscribe?: () => void

  constructor (private readonly init: SessionManagerInit) {
    this.peerSlots = new PeerSlots(resolveSessionOptions(init.session ?? {}).maxPeerTransfersTotal, () => {
      for (const s of this.sessions.values()) s.plan()
    })
    // A neighbour's holdings changed: the session for that digest may have new sources.
    this.unsubscribe = init.peers?.router.onChange((digest) => {
      const s = this.sessions.get(digest)
      if (s !== undefined && !s.isDone) s.plan()
    })
  }

  private get segmentBytes (): number { return this.init.session?.segmentBytes ?? DEFAULTS.fetch.segmentBytes }
  private get leadBytes (): number { return this.init.leadBytes ?? DEFAULTS.fetch.leadBytes }
  private get smallBlobBytes (): number { return this.init.smallBlobBytes ?? DEFAULTS.fetch.smallBlobBytes }

  /**
   * Sizes of blobs named by manifests this agent served (layers and configs): a client asks for
   * them next, and a known size lets a cold blob be announced to the office before upstream
   * answered. Bounded; the oldest go first.
   */
  hintSizes (descriptors: Iterable<{ digest: string, size: number }>, registry?: string): void {
    const named: string[] = []
    for (const d of descriptors) {
      this.sizes.delete(d.digest)
      this.sizes.set(d.digest, d.size)
      named.push(d.digest)
    }
    while (this.sizes.size > SIZE_HINTS) this.sizes.delete(this.sizes.keys().next().value as string)
    if (registry !== undefined) void this.lookAhead(named, registry)
  }

  /**
   * Ask the office now for the blobs a client is about to want and the store lacks, all at
   * once: when the client asks (one blob after another, for skopeo), its lookup joins the one
   * still running or finds the answer in the table, instead of costing a round of the DHT each.
   */
  private async lookAhead (digests: string[], registry: string): Promise<void> {
    for (const digest of digests) {
      const peers = this.usePeers(digest, registry)
      if (peers === undefined || this.stopped || this.sessions.has(digest)) continue
      try {
        if ((await this.init.store.stat(digest))?.state === 'complete') continue
        void peers.router.lookup(digest).catch(() => {})
      } catch { /* a hint only */ }
    }
  }

  /** Subscribe to sessions starting and ending (the inventory's `fetching` flag). */
  onFetchingChange (fn: (digest: string, fetching: boolean) => void): () => void {
    this.listeners.add(fn)
    return () => this.listeners.delete(fn)
  }

  private usePeers (digest: string, registry: string): PeerSources | undefined {
    const peers = this.init.peers
    if (peers === undefined) return undefined
    if (!(this.init.sharing ?? SHARE_ALL).registry(registry)) return undefined
    const until = this.noPeers.get(digest)
    if (until !== undefined) {
      if (until > Date.now()) return undefined
      this.noPeers.delete(digest)
    }
    return peers
  }

  /** Ranges the session of `digest` is fetching from upstream right now. */
  claimed (digest: string): Array<[number, number]> {
    const s = this.sessions.get(digest)
    return s === undefined || s.isDone ? [] : s.upstreamClaims()
  }

  /** Digests with a running session (for the inventory's `fetching` flag). */
  isFetching (digest: string): boolean {
    const s = this.sessions.get(digest)
    return s !== undefined && !s.isDone
  }

  active (): FetchSession[] { return [...this.sessions.values()] }

  async session (digest: string, ctx: BlobContext, signal?: AbortSignal): Promise<FetchSession> {
    if (this.stopped) throw new AbortedError('agent is stopping')
    const s = this.sessions.get(digest)
    if (s !== undefined && !s.isDone) return s
    let p = this.opening.get(digest)
    if (p === undefined) {
      p = this.create(digest, ctx, signal).finally(() => this.opening.delete(digest))
      this.opening.set(digest, p)
    }
    return await p
  }

  private async create (digest: string, ctx: BlobContext, signal?: AbortSignal): Promise<FetchSession> {
    const { store, upstream } = this.init
    const peers = this.usePeers(digest, ctx.registry)
    // A blob of a registry we hold credentials for is taken from neighbours only after those
    // credentials authorised it for this repository: a HEAD upstream here, or, on the cold paths
    // below, the first upstream GET. A 401/403/404 reaches the client and no peer byte is taken.
    const credentialed = upstream.isCredentialed(ctx.registry)
    const authorise = async (): Promise<number | undefined> => {
      if (!credentialed) return undefined
      return (await upstream.statBlob(ctx.registry, ctx.repository, digest, signal)).size
    }
    let entry = await store.acquire(digest)
    if (entry !== undefined) {
      if (!entry.complete && peers !== undefined) {
        try { await authorise() } catch (err) { store.release(entry); throw err }
      }
      const s = this.attach(entry, peers)
      if (!entry.complete) {
        // Bytes on disk from before a restart are hashed from the start; fetching resumes at the
        // first missing byte.
        entry.startHashing()
        s.ensureBackground(ctx)
      }
      return s
    }
    const origin = { registry: ctx.registry, repository: ctx.repository }
    // A neighbour holds or fetches it: its size is all we need; we join at once (the planner
    // divides what is left with the neighbours that fetch it).
    const holders = peers === undefined ? [] : await peers.router.lookup(digest, { signal })
    if (holders.length > 0) {
      const size = (await authorise()) ?? holders[0].size
      entry = await store.acquire(digest, { size, origin, credentialed })
      const s = this.attach(entry!, peers)
      s.ensureBackground(ctx)
      return s
    }
    const neighbours = peers !== undefined && peers.neighbours() > 0
    const known = this.sizes.get(digest)
    if (neighbours && known !== undefined && !credentialed) {
      // Cold, neighbours around, size known from the manifest: announce it now and lead.
      entry = await store.acquire(digest, { size: known, origin, credentialed })
      const s = this.attach(entry!, peers)
      if (!entry!.complete) s.lead(ctx, known <= this.smallBlobBytes ? known : this.leadBytes)
      return s
    }
    // Otherwise the first upstream response gives the size and becomes the first transfer: a
    // closed segment when alone, the lead with neighbours around. Its abort is not tied to the
    // client: the download outlives a client that goes away.
    const first = neighbours ? this.leadBytes : this.segmentBytes
    const abort = new AbortController()
    const onAbort = (): void => abort.abort()
    signal?.addEventListener('abort', onAbort, { once: true })
    let res
    try {
      res = await upstream.fetchBlob(ctx.registry, ctx.repository, digest, { start: 0, end: first, signal: abort.signal })
    } finally { signal?.removeEventListener('abort', onAbort) }
    entry = await store.acquire(digest, { size: res.size, origin, credentialed })
    const s = this.attach(entry!, peers)
    if (entry!.size !== res.size || entry!.complete) abort.abort()
    else s.adoptUpstream(ctx, 0, first, res.body, abort, neighbours)
    s.ensureBackground(ctx)
    return s
  }

  private attach (entry: BlobEntry, peers: PeerSources | undefined): FetchSession {
    const s = new FetchSession({
      entry,
      upstream: this.init.upstream,
      peers,
      metrics: this.init.metrics,
      logger: this.init.logger,
      init: this.init.session ?? {},
      onClaimsChange: () => { for (const fn of this.listeners) fn(entry.digest, true) },
      peerSlots: this.peerSlots,
      onDone: (done) => {
        if (this.sessions.get(entry.digest) === done) this.sessions.delete(entry.digest)
        if (done.error instanceof DigestMismatchError && done.peerBytes > 0) {
          // Some bytes came from peers and the blob failed: we cannot tell who lied without piece
          // hashes, so the next attempt uses upstream only.
          this.noPeers.set(entry.digest, Date.now() + (this.init.peerQuarantineMs ?? DEFAULTS.fetch.peerQuarantineMs))
          this.init.logger.warn({ digest: entry.digest }, 'blob with bytes from peers failed verification: next fetch from upstream only')
        }
        if (done.error instanceof StoreFullError && !entry.complete) {
          // It does not fit: keeping the partial bytes would only keep the disk full for others.
          entry.dropWhenIdle = 'disk-full'
          this.init.logger.error({ digest: entry.digest, size: entry.size }, 'disk full: partial blob dropped; free space or lower store.maxBytes')
        }
        this.init.store.release(entry)
        peers?.router.done?.(entry.digest)
        for (const fn of this.listeners) fn(entry.digest, false)
      }
    })
    this.sessions.set(entry.digest, s)
    if (entry.complete) s.finish()
    else for (const fn of this.listeners) fn(entry.digest, true)
    return s
  }

  /**
   * Bytes [start, end) of a blob that is not complete on disk (end undefined = to the end).
   * Holds its own reference on the entry so the file stays open while the client reads.
   */
  async read (digest: string, ctx: BlobContext, start: number, end: number | undefined, signal?: AbortSignal): Promise<BlobRead & { session: FetchSession }> {
    const s = await this.session(digest, ctx, signal)
    const entry = await this.init.store.acquire(digest)
    if (entry === undefined) throw new AbortedError('blob vanished while opening')
    entry.touch() // GC order and the partial-blob TTL count from the last reader
    const stop = Math.min(end ?? s.size, s.size)
    const store = this.init.store
    async function * body (): AsyncGenerator<Buffer[]> {
      try {
        yield * s.stream(ctx, start, stop, signal)
      } finally { store.release(entry!) }
    }
    return { size: s.size, body: body(), session: s }
  }

  /**
   * A small blob (a manifest by digest) from the office, if a neighbour holds it: its bytes,
   * verified, or undefined when no neighbour has it (the caller asks upstream then).
   */
  async fromOffice (digest: string, ctx: BlobContext, maxBytes: number, signal?: AbortSignal): Promise<Buffer | undefined> {
    const peers = this.usePeers(digest, ctx.registry)
    if (peers === undefined) return undefined
    const holders = (await peers.router.lookup(digest, { signal })).filter(h => h.size <= maxBytes)
    if (!holders.some(h => h.complete)) return undefined
    const r = await this.read(digest, ctx, 0, undefined, signal)
    const parts: Buffer[] = []
    try {
      for await (const chunks of r.body) parts.push(...chunks)
      return Buffer.concat(parts)
    } finally {
      for (const p of parts) letGo(p) // copied (or failed): lent bytes may go back (src/util/lent.ts)
    }
  }

  async stop (): Promise<void> {
    this.stopped = true
    this.unsubscribe?.()
    for (const s of this.sessions.values()) s.finish(new AbortedError('agent is stopping'))
    this.sessions.clear()
  }
}
