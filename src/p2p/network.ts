// The libp2p side of layerd: connectivity (static peers, mDNS), the inventory exchange, and the
// range / piece-hash protocols. See docs/PROTOCOL.md for the wire format.

import '../polyfill.js'
import type { Connection, PeerId, PrivateKey, Stream } from '@libp2p/interface'
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import type { Libp2p } from 'libp2p'
import { AbortedError, ConfigError, PeerProtocolError, PeerRangeError, errorMessage } from '../errors.js'
import type { Logger } from '../log.js'
import type { Metrics } from '../metrics/metrics.js'
import { FrameError, StreamReader, encodeFrame, parseFrameObject, sendCapped } from './frames.js'
import { createNode } from './node.js'
import { INVENTORY_FRAME_TARGET, INVENTORY_PROTOCOL, MAX_CONTROL_FRAME_BYTES, MAX_PIECES, MAX_RANGES_PER_ENTRY, PIECES_PROTOCOL, RANGE_PROTOCOL, clientError, countFailure, readRequest, refuse, request, type ErrorCode, type Response, PeerRefusedError } from './protocol.js'
import { loadOrCreatePeerKey } from './identity.js'
import { encodeEntryFrames, encodeRemoveFrames } from './inventory/encode.js'
import { HoldersTable } from './inventory/table.js'
import { ChangeThrottler } from './inventory/throttle.js'
import { isSha256Digest } from '../oci/reference.js'
import { rangesCover } from '../util/ranges.js'
import { PIECE_SIZE } from '../util/pieces.js'
import { sleep } from '../util/sleep.js'
import { TokenBucket } from '../util/token-bucket.js'
import { type InventoryChange, type InventoryEntry, type LocalBlobs, type PeerHolding, type PeerInfo, type LegacyPeerNetwork as PeerNetwork } from './types.js'
import { expectArray, expectBool, expectDigest, expectEntry, expectSize, isSize } from './validate.js'

export interface PeerNetworkInit {
  /** Directory for `peer-key` (Ed25519, mode 0600, created on first start). */
  dataDir: string
  /** Listen multiaddrs. Default `['/ip4/0.0.0.0/tcp/4050']`. */
  listen?: string[]
  /** Static peers, dialled and re-dialled with bounded backoff; `/p2p/<id>` optional. Default `[]`. */
  peers?: string[]
  /** mDNS discovery. Default true. */
  mdns?: boolean
  /** mDNS query interval. Default 10 000 ms. */
  mdnsIntervalMs?: number
  /** mDNS service tag. Default `layerd`. */
  serviceTag?: string
  /** Office secret: only agents with the same secret complete the noise handshake. */
  secret?: Uint8Array
  local: LocalBlobs
  metrics: Metrics
  logger: Logger
  /** Concurrent range uploads per peer before answering BUSY. Default 2. */
  maxUploadsPerPeer?: number
  /** Concurrent range uploads in total before answering BUSY. Default 8. */
  maxUploadsTotal?: number
  /** Upload rate cap over all peers in bytes/s (token bucket). Default 0 = unlimited. */
  uploadBytesPerSecond?: number
  /** At most one update per digest per this many ms to each peer. Default 250. */
  inventoryThrottleMs?: number
  /** Hard limit for a received inventory frame body. Default 1 MiB. */
  maxFrameBytes?: number
  /** Time for a peer to answer a request, and longest silence inside a transfer. Default 30 000 ms. */
  requestTimeoutMs?: number
  /** Static peer re-dial backoff, first and longest wait. Default 1 000 / 30 000 ms. */
  redialMinMs?: number
  redialMaxMs?: number
  /** Most inventory entries accepted from one peer. Default 100 000. */
  maxInventoryEntries?: number
}

function positive (value: number | undefined, fallback: number, key: string, allowZero = false): number {
  const v = value ?? fallback
  if (!Number.isFinite(v) || v < 0 || (!allowZero && v === 0)) throw new ConfigError(`${key} must be a ${allowZero ? 'non-negative' : 'positive'} number`)
  return v
}

interface Options {
  listen: string[]
  peers: Multiaddr[]
  mdns: boolean
  mdnsIntervalMs: number
  serviceTag: string
  maxUploadsPerPeer: number
  maxUploadsTotal: number
  uploadBytesPerSecond: number
  inventoryThrottleMs: number
  maxFrameBytes: number
  requestTimeoutMs: number
  redialMinMs: number
  redialMaxMs: number
  maxInventoryEntries: number
}

/** PeerNetwork plus a few diagnostics (listen addresses, the libp2p node). */
export interface LayerdPeerNetwork extends PeerNetwork {
  /** Our listen multiaddrs with `/p2p/<id>` (after start()). */
  multiaddrs (): string[]
  readonly libp2p: Libp2p | undefined
}

export function createPeerNetwork (init: PeerNetworkInit): LayerdPeerNetwork {
  return new Network(init)
}

class Network implements LayerdPeerNetwork {
  readonly peerId: string
  private readonly opts: Options
  private readonly privateKey: PrivateKey
  private readonly local: LocalBlobs
  private readonly metrics: Metrics
  private readonly log: Logger
  private readonly secret?: Uint8Array
  private node?: Libp2p
  private running = false
  private stopped = false
  private readonly stopController = new AbortController()
  private unsubscribeLocal?: () => void
  private readonly mirror = new Map<string, InventoryEntry>()
  private readonly throttler: ChangeThrottler
  private readonly table = new HoldersTable()
  private readonly connected = new Set<string>()
  private readonly bans = new Map<string, number>()
  private readonly timers = new Set<NodeJS.Timeout>()
  private readonly listeners = new Set<(digest: string) => void>()
  private readonly senders = new Map<string, InventorySender>()
  private readonly inboundInventory = new Map<string, number>()
  private inventorySeq = 0
  private readonly uploads = new Map<string, Set<AbortController>>()
  private uploadsTotal = 0
  private readonly bucket: TokenBucket
  private readonly dialing = new Set<string>()
  private readonly disconnectWaiters = new Set<() => void>()
  private readonly background = new Set<Promise<unknown>>()

  constructor (init: PeerNetworkInit) {
    this.local = init.local
    this.metrics = init.metrics
    this.log = init.logger.child({ component: 'p2p' })
    this.secret = init.secret
    let peers: Multiaddr[]
    try {
      peers = (init.peers ?? []).map(p => multiaddr(p))
    } catch (err) {
      throw new ConfigError(`peers: ${errorMessage(err)}`)
    }
    this.opts = {
      listen: init.listen ?? ['/ip4/0.0.0.0/tcp/4050'],
      peers,
      mdns: init.mdns ?? true,
      mdnsIntervalMs: positive(init.mdnsIntervalMs, 10_000, 'mdnsIntervalMs'),
      serviceTag: init.serviceTag ?? 'layerd',
      maxUploadsPerPeer: positive(init.maxUploadsPerPeer, 2, 'maxUploadsPerPeer'),
      maxUploadsTotal: positive(init.maxUploadsTotal, 8, 'maxUploadsTotal'),
      uploadBytesPerSecond: positive(init.uploadBytesPerSecond, 0, 'uploadBytesPerSecond', true),
      inventoryThrottleMs: positive(init.inventoryThrottleMs, 250, 'inventoryThrottleMs', true),
      maxFrameBytes: positive(init.maxFrameBytes, 1024 * 1024, 'maxFrameBytes'),
      requestTimeoutMs: positive(init.requestTimeoutMs, 30_000, 'requestTimeoutMs'),
      redialMinMs: positive(init.redialMinMs, 1_000, 'redialMinMs'),
      redialMaxMs: positive(init.redialMaxMs, 30_000, 'redialMaxMs'),
      maxInventoryEntries: positive(init.maxInventoryEntries, 100_000, 'maxInventoryEntries')
    }
    if (this.opts.maxFrameBytes < 1024) throw new ConfigError('maxFrameBytes must be at least 1024')
    this.privateKey = loadOrCreatePeerKey(init.dataDir, this.log)
    this.peerId = peerIdFromPrivateKey(this.privateKey).toString()
    this.bucket = new TokenBucket(this.opts.uploadBytesPerSecond)
    this.throttler = new ChangeThrottler(this.opts.inventoryThrottleMs, change => {
      for (const s of this.senders.values()) s.enqueue(change)
    })
  }

  get stopSignal (): AbortSignal { return this.stopController.signal }
  get isRunning (): boolean { return this.running }
  get inventoryBudget (): number { return Math.min(this.opts.maxFrameBytes, INVENTORY_FRAME_TARGET) - 64 }
  get requestTimeoutMs (): number { return this.opts.requestTimeoutMs }
  get redialMinMs (): number { return this.opts.redialMinMs }
  get redialMaxMs (): number { return this.opts.redialMaxMs }
  get logger (): Logger { return this.log }
  localSnapshot (): InventoryEntry[] { return [...this.mirror.values()] }

  /** The libp2p node (tests, diagnostics). */
  get libp2p (): Libp2p | undefined { return this.node }

  multiaddrs (): string[] {
    return this.node?.getMultiaddrs().map(a => a.toString()) ?? []
  }

  // ---------------------------------------------------------------- lifecycle

  async start (): Promise<void> {
    if (this.running || this.stopped) throw new Error('PeerNetwork.start() called twice')
    this.running = true
    try {
      await this.loadLocalInventory()
      const node = await createNode({ privateKey: this.privateKey, listen: this.opts.listen, secret: this.secret, mdns: this.opts.mdns, mdnsIntervalMs: this.opts.mdnsIntervalMs, serviceTag: this.opts.serviceTag, logger: this.log })
      this.node = node
      await node.handle(INVENTORY_PROTOCOL, (stream, conn) => { this.track(this.handleInventory(stream, conn)) }, { maxInboundStreams: 4, maxOutboundStreams: 4 })
      await node.handle(RANGE_PROTOCOL, (stream, conn) => { this.track(this.handleRange(stream, conn)) }, { maxInboundStreams: 64, maxOutboundStreams: 64 })
      await node.handle(PIECES_PROTOCOL, (stream, conn) => { this.track(this.handlePieces(stream, conn)) }, { maxInboundStreams: 16, maxOutboundStreams: 16 })
      node.addEventListener('peer:identify', evt => {
        const { peerId, protocols, connection } = evt.detail
        if (protocols.includes(INVENTORY_PROTOCOL)) {
          this.markConnected(peerId.toString(), connection)
        } else if (!this.connected.has(peerId.toString())) {
          this.log.debug({ peer: peerId.toString() }, 'peer does not speak layerd: hanging up')
          this.track(node.hangUp(peerId).catch(() => {}))
        }
      })
      node.addEventListener('peer:disconnect', evt => { this.markDisconnected(evt.detail.toString()) })
      node.addEventListener('peer:discovery', evt => { this.onDiscovery(evt.detail.id) })
      await node.start()
      this.log.info({ peerId: this.peerId, addresses: node.getMultiaddrs().map(a => a.toString()), mdns: this.opts.mdns, staticPeers: this.opts.peers.length }, 'p2p started')
      for (const addr of this.opts.peers) this.track(this.staticLoop(addr))
    } catch (err) {
      await this.stop().catch(() => {})
      throw err
    }
  }

  async stop (): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    this.running = false
    this.stopController.abort(new AbortedError('p2p stopping'))
    this.unsubscribeLocal?.()
    this.throttler.stop()
    for (const t of this.timers) clearTimeout(t)
    this.timers.clear()
    for (const s of this.senders.values()) s.stop()
    this.senders.clear()
    for (const set of this.uploads.values()) for (const ac of set) ac.abort()
    for (const w of this.disconnectWaiters) w()
    try {
      await this.node?.stop()
    } finally {
      await Promise.allSettled([...this.background])
      this.connected.clear()
      this.metrics.peersConnected.set(0)
      this.log.info('p2p stopped')
    }
  }

  private track (p: Promise<unknown>): void {
    const q = p.catch(err => { this.log.debug({ err: errorMessage(err) }, 'background task failed') })
    this.background.add(q)
    void q.finally(() => this.background.delete(q))
  }

  private async loadLocalInventory (): Promise<void> {
    const early: InventoryChange[] = []
    let ready = false
    this.unsubscribeLocal = this.local.onChange(change => {
      if (!ready) { early.push(change); return }
      this.applyLocalChange(change)
    })
    const entries = await this.local.inventory()
    for (const e of entries) if (this.shareable(e)) this.mirror.set(e.digest, e)
    for (const c of early) this.applyLocalChange(c)
    ready = true
  }

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

  private applyLocalChange (change: InventoryChange): void {
    if (change.type === 'remove') {
      if (!this.mirror.delete(change.digest)) return
    } else {
      if (!this.shareable(change.entry)) return
      this.mirror.set(change.entry.digest, change.entry)
    }
    this.throttler.push(change)
  }

  // ---------------------------------------------------------------- connectivity

  private markConnected (peer: string, conn?: Connection): void {
    if (!this.running || peer === this.peerId) return
    if (!this.connected.has(peer)) {
      this.connected.add(peer)
      this.metrics.peersConnected.set(this.connected.size)
      this.log.info({ peer, address: conn?.remoteAddr.toString() }, 'layerd peer connected')
    }
    let sender = this.senders.get(peer)
    if (sender === undefined) {
      sender = new InventorySender(this, peer)
      this.senders.set(peer, sender)
      const s = sender
      this.track(s.run().finally(() => { if (this.senders.get(peer) === s) this.senders.delete(peer) }))
    } else {
      sender.connectionOpened()
    }
  }

  private markDisconnected (peer: string): void {
    for (const w of this.disconnectWaiters) w()
    if (!this.connected.delete(peer)) return
    this.metrics.peersConnected.set(this.connected.size)
    this.senders.get(peer)?.stop()
    this.senders.delete(peer)
    this.inboundInventory.delete(peer)
    this.fire(this.table.dropPeer(peer))
    this.log.info({ peer }, 'layerd peer disconnected')
  }

  isConnected (peer: string): boolean { return this.connected.has(peer) }

  /** An open connection to `peer` (the newest), or undefined. */
  connectionTo (peer: string): Connection | undefined {
    if (this.node === undefined) return undefined
    let id: PeerId
    try { id = peerIdFromString(peer) } catch { return undefined }
    const conns = this.node.getConnections(id).filter(c => c.status === 'open')
    conns.sort((a, b) => b.timeline.open - a.timeline.open)
    return conns[0]
  }

  private onDiscovery (id: PeerId): void {
    const peer = id.toString()
    if (!this.running || peer === this.peerId || this.dialing.has(peer) || this.connectionTo(peer) !== undefined) return
    this.dialing.add(peer)
    this.track(this.node!.dial(id, { signal: AbortSignal.any([this.stopSignal, AbortSignal.timeout(this.opts.requestTimeoutMs)]) })
      .then(() => { this.log.debug({ peer }, 'dialled discovered peer') })
      .catch(err => { this.log.debug({ peer, err: errorMessage(err) }, 'dialling discovered peer failed') })
      .finally(() => this.dialing.delete(peer)))
  }

  private async staticLoop (addr: Multiaddr): Promise<void> {
    let known = addr.getComponents().find(c => c.name === 'p2p')?.value
    let backoff = this.opts.redialMinMs
    const address = addr.toString()
    while (this.running) {
      if (known !== undefined && this.connectionTo(known) !== undefined) {
        await this.waitForDisconnect(5_000)
        continue
      }
      try {
        const conn = await this.node!.dial(addr, { signal: AbortSignal.any([this.stopSignal, AbortSignal.timeout(this.opts.requestTimeoutMs)]) })
        known = conn.remotePeer.toString()
        backoff = this.opts.redialMinMs
        this.log.debug({ address, peer: known }, 'static peer dialled')
      } catch (err) {
        if (!this.running) return
        this.log.debug({ address, err: errorMessage(err), retryInMs: backoff }, 'static peer dial failed')
        try {
          await sleep(backoff * (0.8 + Math.random() * 0.4), this.stopSignal)
        } catch { return }
        backoff = Math.min(backoff * 2, this.opts.redialMaxMs)
      }
    }
  }

  private async waitForDisconnect (ms: number): Promise<void> {
    await new Promise<void>(resolve => {
      const done = (): void => { clearTimeout(timer); this.disconnectWaiters.delete(done); resolve() }
      const timer = setTimeout(done, ms)
      this.disconnectWaiters.add(done)
      if (!this.running) done()
    })
  }

  // ---------------------------------------------------------------- holders, bans

  holders (digest: string): PeerHolding[] {
    return this.table.holders(digest, peer => this.connected.has(peer) && !this.isBanned(peer))
  }

  onHoldersChange (listener: (digest: string) => void): () => void {
    this.listeners.add(listener)
    return () => { this.listeners.delete(listener) }
  }

  private fire (digests: Iterable<string>): void {
    for (const d of digests) {
      for (const l of this.listeners) {
        try { l(d) } catch (err) { this.log.warn({ err: errorMessage(err) }, 'onHoldersChange listener threw') }
      }
    }
  }

  isBanned (peer: string): boolean {
    const until = this.bans.get(peer)
    if (until === undefined) return false
    if (Date.now() >= until) { this.bans.delete(peer); return false }
    return true
  }

  ban (peerId: string, ms: number, reason: string): void {
    const until = Math.max(this.bans.get(peerId) ?? 0, Date.now() + Math.max(0, ms))
    this.bans.set(peerId, until)
    this.log.warn({ peer: peerId, ms, reason }, 'peer banned')
    for (const ac of this.uploads.get(peerId) ?? []) ac.abort(new AbortedError('peer banned'))
    this.fire(this.table.digestsOf(peerId))
    const timer = setTimeout(() => {
      this.timers.delete(timer)
      if (!this.isBanned(peerId)) {
        this.log.info({ peer: peerId }, 'peer ban expired')
        this.fire(this.table.digestsOf(peerId))
      }
    }, Math.max(0, until - Date.now()) + 5)
    timer.unref()
    this.timers.add(timer)
  }

  peers (): PeerInfo[] {
    const out: PeerInfo[] = []
    for (const peer of this.connected) {
      let addresses: string[] = []
      try {
        addresses = this.node?.getConnections(peerIdFromString(peer)).map(c => c.remoteAddr.toString()) ?? []
      } catch { /* ignore */ }
      const info: PeerInfo = { peerId: peer, addresses, ...this.table.stats(peer) }
      if (this.isBanned(peer)) info.bannedUntil = this.bans.get(peer)
      out.push(info)
    }
    return out
  }

  // ---------------------------------------------------------------- failures

  private failure (peer: string, protocol: string, err: unknown): void {
    countFailure(this.metrics, this.log, peer, protocol, err)
  }

  // ---------------------------------------------------------------- inventory (receiving side)

  private async handleInventory (stream: Stream, conn: Connection): Promise<void> {
    const peer = conn.remotePeer.toString()
    this.markConnected(peer, conn)
    const seq = ++this.inventorySeq
    this.inboundInventory.set(peer, seq)
    const current = (): boolean => this.inboundInventory.get(peer) === seq
    const reader = new StreamReader(stream, { highWater: 2 * this.opts.maxFrameBytes, signal: this.stopSignal })
    let snapshot: Map<string, InventoryEntry> | undefined = new Map()
    let count = 0
    try {
      while (true) {
        const body = await reader.readFrame(this.opts.maxFrameBytes)
        if (body === null) break
        const msg = parseFrameObject(body)
        if (!current()) continue // superseded by a newer stream from the same peer
        switch (msg.type) {
          case 'inventory': {
            if (snapshot === undefined) throw new FrameError('inventory frame after the snapshot was done', 'frame-malformed')
            const done = expectBool(msg.done, 'done')
            for (const raw of expectArray(msg.entries, 'entries', this.opts.maxInventoryEntries)) {
              const e = expectEntry(raw, MAX_RANGES_PER_ENTRY)
              snapshot.set(e.digest, e)
            }
            if (snapshot.size > this.opts.maxInventoryEntries) throw new FrameError(`more than ${this.opts.maxInventoryEntries} inventory entries`, 'frame-malformed')
            if (done) {
              this.fire(this.table.replacePeer(peer, snapshot))
              count = snapshot.size
              this.log.debug({ peer, entries: count }, 'peer inventory received')
              snapshot = undefined
            }
            break
          }
          case 'update': {
            if (snapshot !== undefined) throw new FrameError('update frame before the snapshot was done', 'frame-malformed')
            const entries = expectArray(msg.entries, 'entries', this.opts.maxInventoryEntries).map(raw => expectEntry(raw, MAX_RANGES_PER_ENTRY))
            const changed: string[] = []
            for (const e of entries) {
              if (this.table.get(peer, e.digest) === undefined) {
                if (count >= this.opts.maxInventoryEntries) throw new FrameError(`more than ${this.opts.maxInventoryEntries} inventory entries`, 'frame-malformed')
                count++
              }
              this.table.set(peer, e)
              changed.push(e.digest)
            }
            this.fire(changed)
            break
          }
          case 'remove': {
            if (snapshot !== undefined) throw new FrameError('remove frame before the snapshot was done', 'frame-malformed')
            const digests = expectArray(msg.digests, 'digests', this.opts.maxInventoryEntries).map(d => expectDigest(d))
            const changed = digests.filter(d => this.table.remove(peer, d))
            count -= changed.length
            this.fire(changed)
            break
          }
          default:
            throw new FrameError(`unknown inventory frame type ${JSON.stringify(msg.type)}`, 'frame-malformed')
        }
      }
    } catch (err) {
      if (!(err instanceof AbortedError)) {
        this.failure(peer, INVENTORY_PROTOCOL, err)
        stream.abort(err instanceof Error ? err : new Error(String(err)))
      }
    } finally {
      reader.detach()
      if (current()) {
        this.inboundInventory.delete(peer)
        this.fire(this.table.dropPeer(peer))
      }
    }
  }

  // ---------------------------------------------------------------- range (server side)

  private async refuse (stream: Stream, code: ErrorCode, message: string): Promise<void> {
    await refuse(stream, code, message, this.opts.requestTimeoutMs)
  }

  private async readRequest (stream: Stream, peer: string, protocol: string): Promise<Record<string, unknown> | undefined> {
    return await readRequest(stream, { signal: this.stopSignal, timeoutMs: this.opts.requestTimeoutMs, onFailure: err => { this.failure(peer, protocol, err) } })
  }

  private async handleRange (stream: Stream, conn: Connection): Promise<void> {
    const peer = conn.remotePeer.toString()
    const msg = await this.readRequest(stream, peer, RANGE_PROTOCOL)
    if (msg === undefined) return
    let digest: string, offset: number, length: number
    try {
      digest = expectDigest(msg.digest)
      offset = expectSize(msg.offset, 'offset')
      length = expectSize(msg.length, 'length')
      if (!Number.isSafeInteger(offset + length)) throw new FrameError('offset + length is not a safe integer', 'frame-malformed')
    } catch (err) {
      this.failure(peer, RANGE_PROTOCOL, err)
      await this.refuse(stream, 'BAD_REQUEST', errorMessage(err)); return
    }
    const end = offset + length
    if (this.isBanned(peer)) { await this.refuse(stream, 'BANNED', 'you are banned'); return }
    const entry = this.mirror.get(digest)
    if (entry === undefined) { await this.refuse(stream, 'BLOB_UNKNOWN', `${digest} is not held`); return }
    if (end > entry.size) { await this.refuse(stream, 'OUT_OF_BOUNDS', `range ${offset}-${end} outside blob of ${entry.size} bytes`); return }
    if (!rangesCover(entry.ranges, offset, end)) { await this.refuse(stream, 'RANGE_NOT_HELD', `bytes ${offset}-${end} are not all held`); return }
    let mine = this.uploads.get(peer)
    if ((mine?.size ?? 0) >= this.opts.maxUploadsPerPeer || this.uploadsTotal >= this.opts.maxUploadsTotal) {
      await this.refuse(stream, 'BUSY', `upload slots full (${mine?.size ?? 0}/${this.opts.maxUploadsPerPeer} for you, ${this.uploadsTotal}/${this.opts.maxUploadsTotal} total)`)
      return
    }
    const ac = new AbortController()
    if (mine === undefined) { mine = new Set(); this.uploads.set(peer, mine) }
    mine.add(ac)
    this.uploadsTotal++
    const onClose = (): void => { ac.abort(new AbortedError('stream closed')) }
    stream.addEventListener('close', onClose)
    const signal = AbortSignal.any([ac.signal, this.stopSignal])
    let headerSent = false
    let it: AsyncIterator<Uint8Array> | undefined
    let exhausted = false
    try {
      it = this.local.read(digest, offset, end, signal)[Symbol.asyncIterator]()
      let next: IteratorResult<Uint8Array> | undefined
      if (length > 0) {
        try {
          next = await it.next()
        } catch (err) {
          if (err instanceof PeerRangeError) { await this.refuse(stream, 'RANGE_NOT_HELD', errorMessage(err)); return }
          throw err
        }
      }
      stream.send(encodeFrame({ ok: true }, MAX_CONTROL_FRAME_BYTES))
      headerSent = true
      let sent = 0
      const out = this.metrics.peerBytesOut.labels({ peer })
      while (next !== undefined && next.done !== true) {
        let chunk = next.value
        if (sent + chunk.byteLength > length) throw new Error(`local.read returned more than ${length} bytes`)
        // Keep rate-limited sends smooth: spend tokens in pieces of at most 256 KiB.
        while (chunk.byteLength > 0) {
          const part = this.bucket.unlimited ? chunk : chunk.subarray(0, 256 * 1024)
          await this.bucket.take(part.byteLength, signal)
          await sendCapped(stream, part, { signal, idleTimeoutMs: this.opts.requestTimeoutMs })
          out.inc(part.byteLength)
          sent += part.byteLength
          chunk = chunk.subarray(part.byteLength)
        }
        next = sent < length ? await it.next() : undefined
      }
      exhausted = next?.done === true
      if (sent !== length) throw new Error(`local.read ended after ${sent} of ${length} bytes`)
      await stream.close({ signal: AbortSignal.any([signal, AbortSignal.timeout(this.opts.requestTimeoutMs)]) })
    } catch (err) {
      if (signal.aborted || err instanceof AbortedError) {
        this.log.debug({ peer, digest, err: errorMessage(err) }, 'upload aborted')
      } else {
        this.log.warn({ peer, digest, offset, length, err: errorMessage(err) }, 'upload failed')
      }
      if (!headerSent && !signal.aborted) await this.refuse(stream, 'INTERNAL', 'read failed')
      else stream.abort(err instanceof Error ? err : new Error(String(err)))
    } finally {
      stream.removeEventListener('close', onClose)
      // Let the store release its file handle even when we stopped before its end.
      if (it !== undefined && !exhausted) await it.return?.().catch(() => {})
      ac.abort()
      mine.delete(ac)
      if (mine.size === 0) this.uploads.delete(peer)
      this.uploadsTotal--
    }
  }

  // ---------------------------------------------------------------- pieces (server side)

  private async handlePieces (stream: Stream, conn: Connection): Promise<void> {
    const peer = conn.remotePeer.toString()
    const msg = await this.readRequest(stream, peer, PIECES_PROTOCOL)
    if (msg === undefined) return
    let digest: string
    try {
      digest = expectDigest(msg.digest)
    } catch (err) {
      this.failure(peer, PIECES_PROTOCOL, err)
      await this.refuse(stream, 'BAD_REQUEST', errorMessage(err)); return
    }
    if (this.isBanned(peer)) { await this.refuse(stream, 'BANNED', 'you are banned'); return }
    const entry = this.mirror.get(digest)
    if (entry === undefined) { await this.refuse(stream, 'BLOB_UNKNOWN', `${digest} is not held`); return }
    if (!entry.complete) { await this.refuse(stream, 'NOT_COMPLETE', `${digest} is not complete here`); return }
    try {
      const hashes = await this.local.pieceHashes(digest)
      if (hashes === undefined) { await this.refuse(stream, 'NOT_COMPLETE', `no piece hashes for ${digest}`); return }
      if (hashes.length > MAX_PIECES || hashes.some(h => h.byteLength !== 32)) throw new Error('local piece hashes are malformed')
      const body = Buffer.allocUnsafe(hashes.length * 32)
      hashes.forEach((h, i) => body.set(h, i * 32))
      stream.send(encodeFrame({ ok: true, pieceSize: PIECE_SIZE, count: hashes.length }, MAX_CONTROL_FRAME_BYTES))
      if (body.byteLength > 0) await sendCapped(stream, body, { signal: this.stopSignal, idleTimeoutMs: this.opts.requestTimeoutMs })
      await stream.close({ signal: AbortSignal.any([this.stopSignal, AbortSignal.timeout(this.opts.requestTimeoutMs)]) })
    } catch (err) {
      this.log.warn({ peer, digest, err: errorMessage(err) }, 'piece hashes upload failed')
      stream.abort(err instanceof Error ? err : new Error(String(err)))
    }
  }

  // ---------------------------------------------------------------- client side

  private async request (peer: string, protocol: string, body: unknown, signal: AbortSignal): Promise<Response> {
    if (this.isBanned(peer)) throw new PeerRangeError(`peer ${peer} is banned`)
    const conn = this.connectionTo(peer)
    if (conn === undefined) throw new PeerRangeError(`peer ${peer} is not connected`)
    return await request(conn, protocol, body, signal, this.opts.requestTimeoutMs)
  }

  private clientError (peer: string, protocol: string, err: unknown, signals: Array<AbortSignal | undefined>): Error {
    return clientError(this.metrics, peer, protocol, err, signals.some(s => s?.aborted === true), e => { this.failure(peer, protocol, e) })
  }

  async * fetchRange (peerId: string, digest: string, start: number, end: number, signal?: AbortSignal): AsyncIterable<Uint8Array> {
    if (!isSha256Digest(digest)) throw new PeerRangeError(`invalid digest ${digest}`)
    if (!isSize(start) || !isSize(end) || end < start) throw new PeerRangeError(`invalid range ${start}-${end}`)
    if (signal?.aborted === true) throw new AbortedError('aborted before the request')
    if (!this.running) throw new PeerRangeError('p2p is not running')
    if (end === start) return
    const sig = signal !== undefined ? AbortSignal.any([signal, this.stopSignal]) : this.stopSignal
    let stream: Stream | undefined
    let done = false
    const total = end - start
    let got = 0
    try {
      const r = await this.request(peerId, RANGE_PROTOCOL, { digest, offset: start, length: total }, sig)
      stream = r.stream
      const counter = this.metrics.peerBytesIn.labels({ peer: peerId })
      while (got < total) {
        const chunk = await r.reader.readSome(total - got, { idleTimeoutMs: this.opts.requestTimeoutMs })
        if (chunk === null) {
          throw new PeerProtocolError(`short read from ${peerId}: ${got} of ${total} bytes${r.reader.error !== undefined ? ` (${r.reader.error.message})` : ''}`)
        }
        got += chunk.byteLength
        counter.inc(chunk.byteLength)
        yield chunk
      }
      done = true
    } catch (err) {
      throw this.clientError(peerId, RANGE_PROTOCOL, err, [signal, this.stopSignal])
    } finally {
      // Early exit (error, abort, consumer break): reset the stream so the peer stops sending.
      if (!done) stream?.abort(new AbortedError('range fetch ended early'))
      else if (stream !== undefined && stream.status === 'open') {
        // The peer closes its side right after the last byte; do not keep a stream open for one that does not.
        const s = stream
        const timer = setTimeout(() => { s.abort(new PeerProtocolError('peer kept the range stream open')) }, this.opts.requestTimeoutMs)
        timer.unref()
        s.addEventListener('close', () => { clearTimeout(timer) }, { once: true })
      }
    }
  }

  async fetchPieceHashes (peerId: string, digest: string, signal?: AbortSignal): Promise<Uint8Array[] | undefined> {
    if (!isSha256Digest(digest)) throw new PeerRangeError(`invalid digest ${digest}`)
    if (signal?.aborted === true) throw new AbortedError('aborted before the request')
    if (!this.running) throw new PeerRangeError('p2p is not running')
    const sig = signal !== undefined ? AbortSignal.any([signal, this.stopSignal]) : this.stopSignal
    let stream: Stream | undefined
    try {
      const r = await this.request(peerId, PIECES_PROTOCOL, { digest }, sig)
      stream = r.stream
      if (r.header.pieceSize !== PIECE_SIZE) throw new FrameError(`pieceSize ${String(r.header.pieceSize)} is not ${PIECE_SIZE}`, 'frame-malformed')
      const count = r.header.count
      if (!isSize(count) || count > MAX_PIECES) throw new FrameError('count is not a valid piece count', 'frame-malformed')
      const size = this.table.get(peerId, digest)?.size
      if (size !== undefined && count !== Math.ceil(size / PIECE_SIZE)) throw new FrameError(`${count} pieces do not match a blob of ${size} bytes`, 'frame-malformed')
      const out: Uint8Array[] = []
      if (count > 0) {
        const bytes = await r.reader.readExact(count * 32, { idleTimeoutMs: this.opts.requestTimeoutMs })
        if (bytes === null) throw new PeerProtocolError('peer closed the stream before the piece hashes')
        const copy = bytes.slice()
        for (let i = 0; i < count; i++) out.push(copy.subarray(i * 32, i * 32 + 32))
      }
      r.reader.detach()
      return out
    } catch (err) {
      stream?.abort(new AbortedError('pieces fetch failed'))
      if (err instanceof PeerRefusedError && (err.peerCode === 'BLOB_UNKNOWN' || err.peerCode === 'NOT_COMPLETE')) return undefined
      throw this.clientError(peerId, PIECES_PROTOCOL, err, [signal, this.stopSignal])
    }
  }
}

/**
 * Our side of one peer's inventory stream: a snapshot of the local mirror, then coalesced
 * changes. Re-opened with backoff while the peer stays connected.
 */
class InventorySender {
  private readonly pending = new Map<string, InventoryChange>()
  private stream?: Stream
  private conn?: Connection
  private closed = false
  private wake?: () => void
  private kicked = false

  constructor (private readonly net: Network, private readonly peer: string) {}

  enqueue (change: InventoryChange): void {
    const digest = change.type === 'remove' ? change.digest : change.entry.digest
    this.pending.delete(digest) // keep insertion order = change order
    this.pending.set(digest, change)
    this.notify()
  }

  /** A new connection to the peer appeared: if ours is gone, start over on the new one now. */
  connectionOpened (): void {
    if (this.conn !== undefined && this.conn.status !== 'open') {
      this.kicked = true
      this.stream?.abort(new AbortedError('connection replaced'))
      this.notify()
    }
  }

  stop (): void {
    this.closed = true
    if (this.stream !== undefined) {
      const s = this.stream
      void s.close({ signal: AbortSignal.timeout(1000) }).catch(() => { s.abort(new AbortedError('stopping')) })
    }
    this.notify()
  }

  private notify (): void {
    const w = this.wake
    this.wake = undefined
    w?.()
  }

  private live (): boolean {
    return !this.closed && this.net.isRunning && this.net.isConnected(this.peer)
  }

  async run (): Promise<void> {
    let backoff = this.net.redialMinMs
    while (this.live()) {
      try {
        await this.session()
        backoff = this.net.redialMinMs
      } catch (err) {
        if (!this.live()) break
        this.net.logger.debug({ peer: this.peer, err: errorMessage(err) }, 'inventory stream failed')
      }
      if (!this.live()) break
      if (this.kicked) { this.kicked = false; continue }
      try {
        await sleep(backoff, this.net.stopSignal)
      } catch { break }
      backoff = Math.min(backoff * 2, this.net.redialMaxMs)
    }
  }

  private async session (): Promise<void> {
    const conn = this.net.connectionTo(this.peer)
    if (conn === undefined) throw new PeerRangeError('not connected')
    this.conn = conn
    const stream = await conn.newStream(INVENTORY_PROTOCOL, { signal: AbortSignal.any([this.net.stopSignal, AbortSignal.timeout(this.net.requestTimeoutMs)]) })
    this.stream = stream
    const onClose = (): void => { this.notify() }
    stream.addEventListener('close', onClose)
    try {
      const budget = this.net.inventoryBudget
      this.pending.clear() // the snapshot covers everything up to now
      const frames = encodeEntryFrames('inventory', this.net.localSnapshot(), budget)
      const opts = { cap: 256 * 1024, signal: this.net.stopSignal }
      for (const f of frames) await sendCapped(stream, f, opts)
      while (this.live() && stream.writeStatus === 'writable') {
        if (this.pending.size === 0) {
          await new Promise<void>(resolve => { this.wake = resolve })
          continue
        }
        const updates: InventoryEntry[] = []
        const removes: string[] = []
        for (const c of this.pending.values()) {
          if (c.type === 'remove') removes.push(c.digest)
          else updates.push(c.entry)
        }
        this.pending.clear()
        for (const f of encodeRemoveFrames(removes, budget)) await sendCapped(stream, f, opts)
        if (updates.length > 0) for (const f of encodeEntryFrames('update', updates, budget)) await sendCapped(stream, f, opts)
      }
    } finally {
      stream.removeEventListener('close', onClose)
      if (this.stream === stream) this.stream = undefined
      if (stream.status === 'open' && this.closed) {
        await stream.close({ signal: AbortSignal.timeout(1000) }).catch(() => { stream.abort(new AbortedError('stopping')) })
      } else if (stream.status === 'open') {
        stream.abort(new AbortedError('inventory session ended'))
      }
    }
  }
}
