import { createHash } from 'node:crypto'
import { AbortedError, BlobUnknownError, NoProgressError, PeerProtocolError, StoreFullError, errorMessage } from '../errors.js'
import type { Logger } from '../log.js'
import type { Metrics } from '../metrics/metrics.js'
import { PIECE_SIZE, type PeerHolding, type LegacyPeerNetwork as PeerNetwork, type Ranges } from '../p2p/types.js'
import { rangesCover } from '../p2p/validate.js'
import type { BlobEntry } from '../store/blob-store.js'
import type { Upstream } from '../upstream/types.js'
import { isMine, type Member } from './ownership.js'
import { WriteBehind } from './write-behind.js'

/** Where a blob comes from upstream: the registry and repository of the request that wanted it. */
export interface BlobContext {
  registry: string
  repository: string
}

export const DEFAULT_SEGMENT_BYTES = 32 * 1024 * 1024

export interface SessionInit {
  /** Parallel upstream transfers for one blob (chunked clients ask for several offsets). Default 4. */
  maxUpstreamStreams?: number
  /**
   * Upstream requests ask for at most this many bytes (a closed Range), so a transfer never has
   * to be cut short — bytes in flight on a cut connection would be paid for and thrown away.
   * A reader waiting beyond the running request gets its own request. Default 32 MiB.
   */
  segmentBytes?: number
  /** Keep fetching with no reader attached for at most this long. Default 10 min. */
  detachedTimeoutMs?: number
  /** Bytes held back from a reader at the end of the blob until the sha256 verified. Default 64 KiB. */
  tailHoldBytes?: number
  /** Parallel peer transfers for one blob. Default 6. */
  maxPeerTransfers?: number
  /** Parallel transfers from one peer (its upload limit answers BUSY beyond). Default 2. */
  perPeerTransfers?: number
  /** A peer transfer with no byte for this long moves to another source. Default 5 s. */
  peerStallMs?: number
  /** A peer that is fetching the blob but whose holdings stopped growing this long loses its share. Default 15 s (a shaped, shared link can starve one TCP connection for seconds). */
  ownerStallMs?: number
  /** A peer caught sending bad bytes is not used for this long. Default 10 min. */
  banMs?: number
}

interface Claim {
  /** Next byte this worker will write. */
  pos: number
  /** One past the last byte it may write; lowered when another worker takes over the rest. */
  end: number
  /** `upstream` or `peer`. */
  source: 'upstream' | 'peer'
  peerId?: string
  abort: AbortController
}

interface Reader { pos: number, end: number }

export interface SessionDeps {
  entry: BlobEntry
  upstream: Upstream
  /** The peer network, when this blob may be shared. */
  peers?: PeerNetwork
  metrics: Metrics
  logger: Logger
  init: SessionInit
  /** Called once when the session has nothing left to do (complete, failed, or detached too long). */
  onDone: (s: FetchSession) => void
  /** Called when the set of upstream requests changes (neighbours are told what we claim). */
  onClaimsChange?: (s: FetchSession) => void
}

/**
 * One fetch session per digest, shared by every reader of that digest (local clients; peers read
 * the store). It plans which missing bytes to fetch from where — peers that hold them first,
 * upstream for what no peer holds or will soon hold — streams present bytes to readers in order
 * as they arrive, and keeps going in the background after readers leave, so a client's retry
 * resumes from disk.
 */
export class FetchSession {
  readonly digest: string
  private readonly entry: BlobEntry
  private readonly claims = new Set<Claim>()
  private readonly readers = new Set<Reader>()
  private ctx?: BlobContext
  private lastError?: Error
  private waiters: Array<() => void> = []
  private detachedTimer?: NodeJS.Timeout
  private replanTimer?: NodeJS.Timeout
  /** Fires at the end of the coalescing window (plan() arms it; timers may fire early). */
  private holdTimer?: NodeJS.Timeout
  private done = false
  /** No transfer starts before this time (the coalescing window of a cold blob). */
  private notBefore = 0
  /** Peers that answered BUSY: not asked for bytes until the time given (still members, still holders). */
  private readonly busyUntil = new Map<string, number>()
  /** Peers that failed a transfer (garbage, stall, hang-up): left out entirely until the time given. */
  private readonly failedUntil = new Map<string, number>()
  /** When each fetching peer's holdings of this blob last grew (for the owner stall rule). */
  private readonly growth = new Map<string, { bytes: number, at: number }>()
  private pieceHashes?: Uint8Array[]
  private pieceHashesState: 'none' | 'loading' | 'done' = 'none'
  /** Bytes of this blob that came from peers (a whole-blob mismatch then disables peers for it). */
  peerBytes = 0
  private readonly o: Required<SessionInit>

  constructor (private readonly deps: SessionDeps) {
    this.entry = deps.entry
    this.digest = deps.entry.digest
    const i = deps.init
    this.o = {
      maxUpstreamStreams: i.maxUpstreamStreams ?? 4,
      segmentBytes: i.segmentBytes ?? DEFAULT_SEGMENT_BYTES,
      detachedTimeoutMs: i.detachedTimeoutMs ?? 10 * 60_000,
      tailHoldBytes: i.tailHoldBytes ?? 64 * 1024,
      maxPeerTransfers: i.maxPeerTransfers ?? 6,
      perPeerTransfers: i.perPeerTransfers ?? 2,
      peerStallMs: i.peerStallMs ?? 5000,
      ownerStallMs: i.ownerStallMs ?? 15_000,
      banMs: i.banMs ?? 10 * 60_000
    }
    this.entry.completion.then(() => this.finish(), (err) => this.finish(err))
  }

  get size (): number { return this.entry.size }

  /** Byte ranges being fetched from upstream right now (advertised to neighbours as `claimed`). */
  upstreamClaims (): Array<[number, number]> {
    const out: Array<[number, number]> = []
    for (const c of this.claims) if (c.source === 'upstream' && c.end > c.pos) out.push([c.pos, c.end])
    return out.sort((a, b) => a[0] - b[0])
  }
  get isDone (): boolean { return this.done }
  get activeTransfers (): number { return this.claims.size }

  /** Adopt an upstream response that is already open (the request that told us the size). */
  adoptUpstream (ctx: BlobContext, start: number, end: number, body: AsyncIterable<Uint8Array>, abort: AbortController): void {
    this.ctx = ctx
    const claim: Claim = { pos: start, end: Math.min(end, this.nextBoundary(start)), source: 'upstream', abort }
    this.run(claim, async () => body)
  }

  /**
   * Stream bytes [start, end) to a reader, in order, as they become present. The last bytes of
   * the blob are released only after the whole blob verified.
   */
  async * stream (ctx: BlobContext, start: number, end: number, signal?: AbortSignal): AsyncGenerator<Buffer> {
    this.ctx = ctx
    this.lastError = undefined
    const reader: Reader = { pos: start, end }
    this.readers.add(reader)
    this.attached()
    try {
      while (reader.pos < end) {
        if (signal?.aborted === true) throw new AbortedError('client went away')
        if (this.entry.failed !== undefined) throw this.entry.failed
        const present = this.entry.present
        const runEnd = Math.min(present.contiguousEnd(reader.pos), end)
        // Hold back the tail of the blob until verification: a client never receives every byte
        // of a blob that fails its digest.
        const limit = end === this.size && !this.entry.complete ? Math.max(reader.pos, this.size - this.o.tailHoldBytes) : end
        const upto = Math.min(runEnd, limit)
        if (upto > reader.pos) {
          for await (const buf of this.entry.read(reader.pos, upto)) {
            reader.pos += buf.length
            yield buf
          }
          continue
        }
        if (runEnd > reader.pos) {
          // Only the held-back tail remains and it is all here: wait for the verdict.
          await this.wait(signal, this.entry.completion)
          continue
        }
        if (this.lastError !== undefined && !this.isClaimed(reader.pos)) throw this.lastError
        if (this.done) throw this.lastError ?? new AbortedError('fetch session stopped')
        this.plan()
        await this.wait(signal)
      }
    } finally {
      this.readers.delete(reader)
      if (this.readers.size === 0) this.detached()
    }
  }

  /** Start no transfer for `ms`: agents that want the blob at the same moment see each other first. */
  holdOff (ctx: BlobContext, ms: number): void {
    this.notBefore = Date.now() + ms
    this.ensureBackground(ctx) // plan() waits out the window on its own timer
  }

  /** Make sure the whole blob gets fetched even if no reader asks for the rest. */
  ensureBackground (ctx: BlobContext): void {
    this.ctx ??= ctx
    this.plan()
    if (this.readers.size === 0) this.detached()
  }

  private wait (signal?: AbortSignal, extra?: Promise<void>): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let settled = false
      const settle = (fn: () => void): void => {
        if (settled) return
        settled = true
        signal?.removeEventListener('abort', onAbort)
        fn()
      }
      const onAbort = (): void => settle(() => reject(new AbortedError('client went away')))
      if (signal?.aborted === true) { onAbort(); return }
      signal?.addEventListener('abort', onAbort, { once: true })
      this.waiters.push(() => settle(resolve))
      this.entry.changed().then(() => settle(resolve), () => {})
      extra?.then(() => settle(resolve), () => settle(resolve))
    })
  }

  private wake (): void {
    const w = this.waiters
    this.waiters = []
    for (const fn of w) fn()
  }

  private isClaimed (pos: number): boolean {
    for (const c of this.claims) if (c.pos <= pos && pos < c.end) return true
    return false
  }

  private count (source: 'upstream' | 'peer', peerId?: string): number {
    let n = 0
    for (const c of this.claims) if (c.source === source && (peerId === undefined || c.peerId === peerId)) n++
    return n
  }

  /** First byte after `pos` that is present or claimed by another worker (or the size). */
  private nextBoundary (pos: number): number {
    let b = this.entry.present.nextPresent(pos) ?? this.size
    for (const c of this.claims) if (c.pos > pos && c.pos < b) b = c.pos
    return b
  }

  /**
   * Neighbours that hold or fetch this blob: connected, not banned, same size, and no failed
   * transfer in the last peerStallMs (what such a peer advertises cannot be counted on: its
   * bytes and its share go to other sources, upstream last). A peer that was merely BUSY stays:
   * treating it as gone made every agent refetch its share upstream.
   */
  private holders (): PeerHolding[] {
    if (this.deps.peers === undefined) return []
    const now = Date.now()
    return this.deps.peers.holders(this.digest).filter(h => h.size === this.size && (this.failedUntil.get(h.peerId) ?? 0) <= now)
  }

  /**
   * Office-wide coalescing: the agents fetching this blob divide its pieces between them by
   * rendezvous hashing (docs/COALESCING.md). A fetching peer whose holdings stopped growing
   * loses its share, so a dead or stuck neighbour never blocks us for long.
   */
  private members (holders: PeerHolding[], now: number): { members: Member[], active: PeerHolding[] } {
    const selfId = this.deps.peers?.peerId ?? 'self'
    const members: Member[] = [{ id: selfId }]
    const active: PeerHolding[] = []
    for (const h of holders) {
      if (!h.fetching || h.complete) continue
      const bytes = h.ranges.reduce((n, [s, e]) => n + e - s, 0)
      const g = this.growth.get(h.peerId)
      if (g === undefined || g.bytes !== bytes) this.growth.set(h.peerId, { bytes, at: now })
      else if (now - g.at > this.o.ownerStallMs) continue
      members.push({ id: h.peerId })
      active.push(h)
    }
    return { members, active }
  }

  /**
   * Decide what to fetch from where. Every missing, unclaimed byte goes, piece by piece, to a
   * peer that holds it, else to upstream if this agent owns the piece, else it waits for the
   * neighbour that owns it. Upstream requests start where a reader waits (each reader may get
   * its own, up to maxUpstreamStreams) and, one at a time, for the rest of the blob in the
   * background; the next background request starts while the previous one is finishing.
   */
  plan (): void {
    if (this.done || this.entry.complete || this.entry.failed !== undefined || this.ctx === undefined) return
    const now = Date.now()
    if (now < this.notBefore) {
      // Timers may fire a little early: come back at the end of the window, never drop the plan.
      this.holdTimer ??= setTimeout(() => { this.holdTimer = undefined; this.plan() }, this.notBefore - now + 1)
      return
    }
    const present = this.entry.present
    const size = this.size

    const holders = this.holders()
    if (holders.some(h => h.complete) && this.pieceHashesState === 'none') {
      // Pieces from peers are checked against hashes from a verified holder as they arrive.
      this.loadPieceHashes(holders.find(h => h.complete)!.peerId)
      return
    }
    if (this.pieceHashesState === 'loading') return
    const { members, active } = this.members(holders, now)
    const mine = (piece: number): boolean => members.length === 1 || isMine(members, members[0].id, this.digest, piece)
    // A neighbour holds the byte, or is fetching it from upstream right now (it claimed it):
    // either way it comes from the neighbour, not from upstream a second time.
    const heldByPeer = (pos: number): boolean =>
      holders.some(h => h.complete || rangesHave(h.ranges, pos)) || active.some(h => rangesHave(h.claimed, pos))

    const taken = present.clone()
    for (const c of this.claims) taken.add(c.pos, c.end)
    const first = Math.min(...[...this.readers].map(r => r.pos), size)
    // Upstream starts at the bytes readers wait for, and (background, one at a time) at the
    // first piece this agent owns after the earliest reader. After an upstream failure nothing
    // new starts upstream until a new request comes (it clears the error): the readers get the
    // error instead of a retry storm.
    const upstreamOk = this.lastError === undefined
    const targets: number[] = []
    if (upstreamOk) {
      for (const r of this.readers) {
        const p = present.firstMissing(r.pos)
        if (p < r.end && !taken.has(p)) targets.push(p)
      }
    }
    let background = upstreamOk && this.backgroundDue()

    let gaps = taken.missing(0, size).toArray()
    gaps = [...gaps.filter(([, e]) => e > first), ...gaps.filter(([, e]) => e <= first)]
    let waiting = false
    for (const [a, b] of gaps) {
      let pos = a
      while (pos < b) {
        const pieceEnd = Math.min(b, (Math.floor(pos / PIECE_SIZE) + 1) * PIECE_SIZE)
        const h = this.pickHolder(holders, pos)
        if (h !== undefined) {
          const end = Math.min(pieceEnd, h.complete ? size : rangesEnd(h.ranges, pos))
          this.startPeer(h.peerId, pos, end)
          pos = end
          continue
        }
        if (heldByPeer(pos)) { pos = pieceEnd; waiting = true; continue } // from a neighbour, later
        if (!mine(Math.floor(pos / PIECE_SIZE))) { waiting = true; pos = pieceEnd; continue } // a neighbour fetches it
        if (!upstreamOk || this.count('upstream') >= this.o.maxUpstreamStreams) { pos = pieceEnd; continue }
        // A reader waiting inside this piece gets the request at its byte; otherwise the
        // background request, if one may start now, begins here.
        let start = targets.find(t => t >= pos && t < pieceEnd)
        if (start === undefined && background) { start = pos; background = false }
        if (start === undefined) { pos = pieceEnd; continue }
        const limit = Math.min(b, start + this.o.segmentBytes)
        let end = Math.min(limit, (Math.floor(start / PIECE_SIZE) + 1) * PIECE_SIZE)
        while (end < limit && mine(Math.floor(end / PIECE_SIZE)) && !heldByPeer(end)) end = Math.min(limit, end + PIECE_SIZE)
        this.startUpstream(start, end, members.length)
        pos = end
      }
    }
    if (waiting) this.scheduleReplan()
  }

  /** A background upstream request may start: none runs, or the one running is nearly done. */
  private backgroundDue (): boolean {
    for (const c of this.claims) {
      if (c.source === 'upstream' && c.end - c.pos > this.o.segmentBytes / 4) return false
    }
    return true
  }

  /** Re-plan later: owner stalls and peer slots are time-based. */
  private scheduleReplan (): void {
    if (this.replanTimer !== undefined || this.done) return
    // Not unref'd: a session waiting on a neighbour is work in progress (finish() clears it).
    // Short: a busy peer is asked again after 250 ms; planning is cheap.
    this.replanTimer = setTimeout(() => { this.replanTimer = undefined; this.plan() }, 300)
  }

  private pickHolder (holders: PeerHolding[], pos: number): PeerHolding | undefined {
    if (this.count('peer') >= this.o.maxPeerTransfers) return undefined
    let best: PeerHolding | undefined
    let bestLoad = Infinity
    const now = Date.now()
    for (const h of holders) {
      if (!h.complete && !rangesHave(h.ranges, pos)) continue
      if ((this.busyUntil.get(h.peerId) ?? 0) > now) continue
      const load = this.count('peer', h.peerId)
      if (load >= this.o.perPeerTransfers) continue
      // Prefer complete holders (they can be verified per piece), then the least loaded.
      const score = load * 2 + (h.complete ? 0 : 1)
      if (score < bestLoad) { best = h; bestLoad = score }
    }
    return best
  }

  private loadPieceHashes (peerId: string): void {
    this.pieceHashesState = 'loading'
    const peers = this.deps.peers!
    const timeout = AbortSignal.timeout(this.o.peerStallMs)
    peers.fetchPieceHashes(peerId, this.digest, timeout).then((hashes) => {
      const expected = Math.ceil(this.size / PIECE_SIZE)
      if (hashes !== undefined && hashes.length === expected) this.pieceHashes = hashes
    }, (err) => {
      this.deps.logger.debug({ digest: this.digest, peer: peerId, err: errorMessage(err) }, 'no piece hashes from peer')
    }).finally(() => {
      this.pieceHashesState = 'done'
      this.plan()
    })
  }

  private startUpstream (start: number, end: number, members: number): void {
    const ctx = this.ctx!
    this.deps.logger.debug({ digest: this.digest, start, end, members }, 'upstream request')
    const abort = new AbortController()
    const claim: Claim = { pos: start, end, source: 'upstream', abort }
    this.run(claim, async () => {
      const res = await this.deps.upstream.fetchBlob(ctx.registry, ctx.repository, this.digest, {
        start,
        end: end >= this.size ? undefined : end,
        signal: abort.signal
      })
      if (res.size !== this.size) throw new BlobUnknownError(`upstream size ${res.size} of ${this.digest} differs from the known size ${this.size}`)
      return res.body
    })
  }

  /**
   * A transfer from a peer. With piece hashes, whole pieces are fetched, checked, then written;
   * a peer that sends a bad piece is banned and the piece goes elsewhere.
   */
  private startPeer (peerId: string, start: number, end: number): void {
    const peers = this.deps.peers!
    const abort = new AbortController()
    const claim: Claim = { pos: start, end, source: 'peer', peerId, abort }
    const hashes = this.pieceHashes
    if (hashes !== undefined) {
      const piece = Math.floor(start / PIECE_SIZE)
      const pStart = piece * PIECE_SIZE
      const pEnd = Math.min(this.size, pStart + PIECE_SIZE)
      this.run(claim, async () => {
        // Hash as chunks arrive and keep them as they are: no second pass, no piece-sized copy.
        const chunks: Uint8Array[] = []
        const h = createHash('sha256')
        let off = 0
        for await (const chunk of this.watchdog(peers.fetchRange(peerId, this.digest, pStart, pEnd, abort.signal), abort)) {
          if (off + chunk.length > pEnd - pStart) throw new PeerProtocolError('peer sent more bytes than asked')
          h.update(chunk)
          chunks.push(chunk)
          off += chunk.length
        }
        if (off !== pEnd - pStart) throw new PeerProtocolError(`peer sent ${off} of ${pEnd - pStart} bytes`)
        if (!h.digest().equals(hashes[piece])) {
          this.deps.metrics.verificationFailures.inc({ source: 'peer' })
          this.deps.metrics.peerFailures.inc({ peer: peerId, reason: 'bad-piece' })
          peers.ban(peerId, this.o.banMs, `sent a piece of ${this.digest} that failed its sha256`)
          this.deps.logger.warn({ digest: this.digest, peer: peerId, piece }, 'peer sent a bad piece: banned, piece fetched elsewhere')
          throw new PeerProtocolError('bad piece')
        }
        return sliceChunks(chunks, start - pStart, end - pStart)
      })
      return
    }
    this.run(claim, async () => this.watchdog(peers.fetchRange(peerId, this.digest, start, end, abort.signal), abort))
  }

  /** Abort a peer transfer that delivers nothing for peerStallMs. */
  private async * watchdog (src: AsyncIterable<Uint8Array>, abort: AbortController): AsyncGenerator<Uint8Array> {
    let timer: NodeJS.Timeout | undefined
    let stalled = false
    const arm = (): void => {
      if (timer !== undefined) clearTimeout(timer)
      timer = setTimeout(() => { stalled = true; abort.abort(new NoProgressError('peer made no progress')) }, this.o.peerStallMs)
    }
    arm()
    try {
      for await (const chunk of src) { arm(); yield chunk }
    } catch (err) {
      if (stalled) throw new NoProgressError(`peer made no progress for ${this.o.peerStallMs} ms`)
      throw err
    } finally { if (timer !== undefined) clearTimeout(timer) }
  }

  /** Run one transfer: write what arrives at its offset until the claim is done or cut short. */
  private run (claim: Claim, open: () => Promise<AsyncIterable<Uint8Array> | Iterable<Uint8Array>>): void {
    this.claims.add(claim)
    if (claim.source === 'upstream') this.deps.onClaimsChange?.(this)
    const { logger, metrics } = this.deps
    void (async () => {
      // claim.pos advances as bytes reach the disk; `received` as they arrive.
      const writer = new WriteBehind(this.entry, claim.pos, (n) => {
        claim.pos += n
        metrics.bytesBySource.inc({ source: claim.source }, n)
        if (claim.source === 'peer') this.peerBytes += n
      })
      let received = claim.pos
      try {
        const body = await open()
        for await (const chunk of body) {
          const take = Math.min(chunk.length, claim.end - received)
          if (take > 0) {
            await writer.push(take === chunk.length ? chunk : chunk.subarray(0, take))
            received += take
          }
          if (received >= claim.end) break
        }
        await writer.flush()
      } catch (err: any) {
        await writer.flush().catch(() => {})
        const stalled = err instanceof NoProgressError
        if ((claim.abort.signal.aborted && !stalled) || this.done) return
        if (claim.source === 'peer') {
          // Peers are never the fallback: skip this one for a moment, plan again.
          // BUSY only means its upload slots are taken for now (often by the piece we just
          // finished, not yet released on its side): ask again shortly.
          if (err?.peerCode === 'BUSY') {
            this.busyUntil.set(claim.peerId!, Date.now() + 250)
            logger.debug({ digest: this.digest, peer: claim.peerId, at: claim.pos }, 'peer busy; asking again shortly')
          } else {
            this.failedUntil.set(claim.peerId!, Date.now() + this.o.peerStallMs)
            if (!stalled && !(err instanceof PeerProtocolError)) metrics.peerFailures.inc({ peer: claim.peerId!, reason: err?.peerCode ?? err?.code ?? 'error' })
            logger.info({ digest: this.digest, peer: claim.peerId, at: claim.pos, err: errorMessage(err) }, 'peer transfer failed; trying another source')
          }
        } else {
          this.lastError = err instanceof Error ? err : new Error(String(err))
          // The disk is full: no source can help, stop the session (the manager drops the bytes).
          if (err instanceof StoreFullError) queueMicrotask(() => this.finish(err))
          logger.warn({ digest: this.digest, source: claim.source, at: claim.pos, err: errorMessage(err), code: err?.code }, 'transfer failed')
        }
      } finally {
        if (!claim.abort.signal.aborted) claim.abort.abort()
        this.claims.delete(claim)
        if (claim.source === 'upstream') this.deps.onClaimsChange?.(this)
        this.wake()
        if (!this.done) {
          this.plan()
          if (this.claims.size === 0 && this.readers.size === 0 && this.lastError !== undefined) this.finish(this.lastError)
        }
      }
    })()
  }

  private attached (): void {
    if (this.detachedTimer !== undefined) { clearTimeout(this.detachedTimer); this.detachedTimer = undefined }
  }

  private detached (): void {
    if (this.done || this.detachedTimer !== undefined) return
    if (this.claims.size === 0 && this.lastError !== undefined) { this.finish(this.lastError); return }
    this.detachedTimer = setTimeout(() => {
      this.deps.logger.info({ digest: this.digest }, 'no reader for too long: background fetch stopped (resumable)')
      this.finish()
    }, this.o.detachedTimeoutMs)
    this.detachedTimer.unref()
  }

  /** Stop everything (agent shutdown, completion, failure). */
  finish (err?: unknown): void {
    if (this.done) return
    this.done = true
    if (this.detachedTimer !== undefined) clearTimeout(this.detachedTimer)
    if (this.replanTimer !== undefined) clearTimeout(this.replanTimer)
    if (this.holdTimer !== undefined) clearTimeout(this.holdTimer)
    for (const c of this.claims) c.abort.abort()
    if (err !== undefined && this.lastError === undefined) this.lastError = err instanceof Error ? err : new Error(String(err))
    this.wake()
    this.deps.onDone(this)
  }

  /** The error the session ended with, if any. */
  get error (): Error | undefined { return this.lastError }
}

/** The bytes [from, to) of a list of chunks, as views (no copy). */
function sliceChunks (chunks: Uint8Array[], from: number, to: number): Uint8Array[] {
  const out: Uint8Array[] = []
  let off = 0
  for (const c of chunks) {
    const s = Math.max(from, off)
    const e = Math.min(to, off + c.length)
    if (e > s) out.push(s === off && e === off + c.length ? c : c.subarray(s - off, e - off))
    off += c.length
  }
  return out
}

function rangesHave (ranges: Ranges, pos: number): boolean { return rangesCover(ranges, pos, pos + 1) }

function rangesEnd (ranges: Ranges, pos: number): number {
  for (const [s, e] of ranges) if (s <= pos && pos < e) return e
  return pos
}

