import { AbortedError, NoProgressError, StoreFullError, errorMessage } from '../errors.js'
import { DEFAULTS } from '../config/defaults.js'
import type { Logger } from '../log.js'
import type { Metrics } from '../metrics/metrics.js'
import type { PeerSources } from '../p2p/types.js'
import type { Holder } from '../routing/router.js'
import type { BlobEntry } from '../store/blob-store.js'
import type { Upstream } from '../upstream/types.js'
import type { SourceBytes } from './sources.js'
import { rangesBytes } from '../util/ranges.js'
import { coalescingSet, plan, yieldContested, type PlanAction } from './planner.js'
import { resolveSessionOptions, type SessionInit, type SessionOptions } from './options.js'
import { PieceHashes, peerFailed, peerOpener, pump, upstreamOpener, type BlobContext, type Claim, type Opener } from './transfers.js'
import { Waiters } from './waiters.js'
import { Claims } from './claims.js'
import { Readers, drain, type Reader } from './readers.js'
import type { PeerSlots } from './peer-slots.js'
import { ReplanTimer } from './replan.js'

export type { BlobContext, SessionInit }

/**
 * - `active`: fetching, or waiting for neighbours.
 * - `paused`: an upstream transfer failed; nothing new goes upstream until a reader asks again
 *   (the readers get the error instead of a retry storm). Peers are still used.
 * - `complete` / `failed` / `stopped`: terminal (verified; gave up with `error`; no reader for
 *   too long, or the agent stops).
 */
export type SessionState = 'active' | 'paused' | 'complete' | 'failed' | 'stopped'

export interface SessionDeps {
  entry: BlobEntry
  upstream: Upstream
  /** The office, when this blob may be shared. */
  peers?: PeerSources
  metrics: Metrics
  logger: Logger
  init: SessionInit
  /** Called once when the session has nothing left to do (complete, failed, or detached too long). */
  onDone: (s: FetchSession) => void
  /** Called when the set of upstream requests changes (neighbours are told what we claim). */
  onClaimsChange?: (s: FetchSession) => void
  /** The agent's peer transfer slots, shared by its sessions (src/session/peer-slots.ts). */
  peerSlots?: PeerSlots
}

/**
 * One fetch session per digest, shared by every reader of that digest (local clients; peers read
 * the store). It asks the planner which missing bytes to fetch from where, runs the transfers,
 * streams present bytes to readers in order as they arrive, and keeps going in the background
 * after readers leave, so a client's retry resumes from disk.
 */
export class FetchSession {
  readonly digest: string
  private readonly entry: BlobEntry
  private state: SessionState = 'active'
  /** Why upstream is paused (state `paused`). */
  private pauseReason?: Error
  /** Why the session ended (terminal states). */
  private endError?: Error
  private readonly claims = new Claims()
  private readonly readers = new Readers()
  /** The context that opened the session: background requests use it when no reader is attached. */
  private origin?: BlobContext
  private detachedTimer?: NodeJS.Timeout
  private readonly replan = new ReplanTimer(() => { this.plan() })
  /**
   * The lead request of a cold blob with neighbours around is running: nothing else is planned
   * until it ends, by when agents that started at the same moment have seen each other.
   */
  private leading = false
  /** A wake of the readers is scheduled for this turn of the event loop (see offer). */
  private wakeSoon = false
  /**
   * The lead ended and no other member was known then: the next upstream request is one piece
   * (planner `probe`), and until it ends nothing else goes upstream, unless members appear.
   */
  private probing = false
  private probeClaim?: Claim
  /** Per-piece hashes from a verified holder: `loading` while asked, then the hashes or none. */
  private readonly pieceHashes = new PieceHashes()
  /** Bytes of this blob by where they came from: on disk when the session opened, received from peers and upstream. */
  readonly received: SourceBytes
  /** Settles when the session ends (complete, failed or stopped: see `status`). */
  readonly ended: Promise<void>
  private resolveEnded!: () => void
  private readonly o: SessionOptions
  private readonly waiters = new Waiters()

  constructor (private readonly deps: SessionDeps) {
    this.entry = deps.entry
    this.digest = deps.entry.digest
    this.o = resolveSessionOptions(deps.init)
    this.received = { local: this.entry.present.bytes, peer: 0, upstream: 0 }
    this.ended = new Promise(resolve => { this.resolveEnded = resolve })
    this.entry.completion.then(() => this.finish(), (err) => this.finish(err))
  }

  get size (): number { return this.entry.size }
  get status (): SessionState { return this.state }
  private get paused (): boolean { return this.state === 'paused' }
  get isDone (): boolean { return this.state === 'complete' || this.state === 'failed' || this.state === 'stopped' }
  get activeTransfers (): number { return this.claims.size }
  /** Bytes of this blob that came from peers (a whole-blob mismatch then disables peers for it). */
  get peerBytes (): number { return this.received.peer }
  get presentBytes (): number { return this.entry.present.bytes }
  /** The error the session ended with (or upstream is paused on), if any. */
  get error (): Error | undefined { return this.endError ?? this.pauseReason }

  /** Byte ranges being fetched from upstream right now (advertised to neighbours as `claimed`). */
  upstreamClaims (): Array<[number, number]> { return this.claims.upstream() }

  /**
   * Adopt an upstream response that is already open (the request that told us the size). A
   * `lead` response holds back all other planning until it ends (see `lead()`).
   */
  adoptUpstream (ctx: BlobContext, start: number, end: number, body: AsyncIterable<Uint8Array>, abort: AbortController, lead = false): void {
    this.origin ??= ctx
    const claim: Claim = { pos: start, end: Math.min(end, this.nextBoundary(start)), source: 'upstream', abort }
    this.run(claim, async () => body, lead)
  }

  /**
   * Coalescing without a timer: fetch [0, end) from upstream at once, announced as claimed, and
   * plan the rest of the blob only when it is done. An agent that starts the same blob at the
   * same moment hears of this one in a LAN round trip, well within that time, so the two then
   * divide the rest between them; what they both fetched is at most this lead.
   */
  lead (ctx: BlobContext, end: number): void {
    this.origin ??= ctx
    const abort = new AbortController()
    const claim: Claim = { pos: 0, end: Math.min(end, this.nextBoundary(0)), source: 'upstream', abort }
    this.run(claim, upstreamOpener(this.deps.upstream, ctx, this.digest, this.size, claim.pos, claim.end, abort.signal), true)
    if (this.readers.size === 0) this.detached()
  }

  /**
   * Stream bytes [start, end) to a reader, in order, as they become present. The last bytes of
   * the blob are released only after the whole blob verified. Every chunk carries a hold
   * (src/util/lent.ts), whether handed over from memory or read from the file: the consumer lets
   * go of each once it was sent or copied.
   */
  async * stream (ctx: BlobContext, start: number, end: number, signal?: AbortSignal): AsyncGenerator<Buffer[]> {
    this.origin ??= ctx
    // A new request is the user asking again: upstream may be tried again.
    if (this.state === 'paused') { this.state = 'active'; this.pauseReason = undefined }
    const reader = this.readers.add(ctx, start, end)
    this.attached()
    // The reader's arrival is news to the planner; its later wakes are not. Whatever changes a
    // plan afterwards (a transfer ending, a holder appearing, a slot freed, a timer) plans by
    // itself: planning on every wake cost a puller ~2000 plans for ~110 transfers.
    let planned = false
    try {
      while (reader.pos < end) {
        if (signal?.aborted === true) throw new AbortedError('client went away')
        if (this.entry.failed !== undefined) throw this.entry.failed
        if (reader.queue.length > 0) {
          // Straight from the transfers that received them: no write-then-read round trip.
          yield drain(reader)
          continue
        }
        const present = this.entry.present
        const runEnd = Math.min(present.contiguousEnd(reader.pos), end)
        // Hold back the tail of the blob until verification: a client never receives every byte
        // of a blob that fails its digest.
        const limit = end === this.size && !this.entry.complete ? Math.max(reader.pos, this.size - this.o.tailHoldBytes) : end
        const upto = Math.min(runEnd, limit)
        if (upto > reader.pos) {
          for await (const buf of this.entry.read(reader.pos, upto)) {
            reader.pos += buf.length
            yield [buf]
          }
          continue
        }
        if (runEnd > reader.pos) {
          // Only the held-back tail remains and it is all here: wait for the verdict.
          await this.wait(signal, this.entry.completion)
          continue
        }
        if (this.paused && !this.claims.covers(reader.pos)) throw this.pauseReason!
        if (this.isDone) throw this.endError ?? new AbortedError('fetch session stopped')
        if (!planned) { planned = true; this.plan() }
        await this.wait(signal)
      }
    } finally {
      this.readers.delete(reader)
      if (this.readers.size === 0) this.detached()
    }
  }

  /** Make sure the whole blob gets fetched even if no reader asks for the rest. */
  ensureBackground (ctx: BlobContext): void {
    this.origin ??= ctx
    this.plan()
    if (this.readers.size === 0) this.detached()
  }

  /** Until the next change: bytes written, a transfer ended, `extra` settled, or `signal` aborted. */
  private async wait (signal?: AbortSignal, extra?: Promise<void>): Promise<void> {
    await this.waiters.wait(signal, [this.entry.changed(), ...(extra !== undefined ? [extra] : [])])
  }

  private wake (): void { this.waiters.wake() }

  /** First byte after `pos` that is present or claimed by another worker (or the size). */
  private nextBoundary (pos: number): number {
    return this.claims.nextStart(pos, this.entry.present.nextPresent(pos) ?? this.size)
  }

  /** A transfer received bytes at `offset` (verified, for peer pieces): readers that want them next get them. */
  private offer (offset: number, chunk: Uint8Array): void {
    if (this.readers.size === 0) return
    const plenty = this.readers.offer(offset, chunk, this.size, this.size - this.o.tailHoldBytes)
    // Readers are woken once per turn of the event loop, not once per chunk: the socket reads of
    // one poll phase (up to 32 of 64 KiB) then reach the client in one writev instead of one
    // write each (a loopback write costs about as much as the bytes it carries). A reader with
    // plenty queued (a whole peer piece) is woken at once.
    if (plenty) this.wake()
    else if (!this.wakeSoon) {
      this.wakeSoon = true
      setImmediate(() => { this.wakeSoon = false; this.wake() })
    }
  }

  /**
   * Neighbours that hold or fetch this blob: same size, and no failed transfer of it in the last
   * peerStallMs (what such a peer advertises cannot be counted on: its bytes and its share go
   * to other sources, upstream last). A peer that was merely BUSY stays.
   */
  private holders (): Holder[] {
    const peers = this.deps.peers
    if (peers === undefined) return []
    return peers.router.holders(this.digest).filter(h => h.size === this.size && !peers.health.hasFailed(h.peerId, this.digest))
  }

  /** Decide what to fetch from where (src/session/planner.ts) and start it. */
  plan (): void {
    if (this.isDone || this.entry.complete || this.entry.failed !== undefined || this.origin === undefined || this.leading) return
    const holders = this.holders()
    const complete = holders.find(h => h.complete)
    if (complete !== undefined && this.pieceHashes.state === 'none') {
      // Pieces from peers are checked against hashes from a verified holder as they arrive.
      this.loadPieceHashes(complete.peerId)
      return
    }
    if (this.pieceHashes.state === 'loading') return
    const peers = this.deps.peers
    const { members, fetchers } = coalescingSet(peers?.peerId ?? 'self', holders, (h) =>
      peers === undefined || peers.health.progressing(h.peerId, this.digest, rangesBytes(h.ranges), this.o.ownerStallMs))
    if (members.length > 1) this.probing = false
    // Bytes a neighbour holds by now, or claimed at the same moment as we did (the owner of each
    // piece keeps it): our upstream requests stop short of them.
    const claims = [...this.claims]
    for (const [i, end] of yieldContested(this.digest, claims, holders, fetchers, members)) {
      const c = claims[i]!
      this.deps.logger.debug({ digest: this.digest, from: c.pos, end: c.end, now: end }, 'upstream request shortened: a neighbour fetches the rest')
      c.end = end
      if (c.end <= c.pos) c.abort.abort()
      this.deps.onClaimsChange?.(this)
    }
    const readers = this.readers.list()
    const p = plan({
      digest: this.digest,
      size: this.size,
      present: this.entry.present,
      claims: [...this.claims],
      readers,
      holders,
      busy: (peerId) => peers?.health.isBusy(peerId) ?? false,
      members,
      fetchers,
      upstreamOk: this.state === 'active',
      wholePieces: this.pieceHashes.value !== undefined,
      probe: this.probing,
      opts: { ...this.o, maxPeerTransfers: this.peerTransferLimit() }
    })
    for (const a of p.actions) this.start(a, readers, members.length)
    if (p.waiting) this.replan.schedule(this.replanDelay(holders))
  }

  /**
   * When a waiting plan may come out differently: the moment the first busy holder may be asked
   * again (BUSY is the common wait when many agents want the same pieces), at the latest after
   * replanMs (owner stalls and the rest are time-based too).
   */
  private replanDelay (holders: Holder[]): number {
    const health = this.deps.peers?.health
    let delay: number = DEFAULTS.fetch.replanMs
    if (health !== undefined) {
      for (const h of holders) {
        const left = health.busyFor(h.peerId)
        if (left > 0 && left < delay) delay = left
      }
    }
    return delay
  }

  private start (a: PlanAction, readers: Reader[], members: number): void {
    const abort = new AbortController()
    if (a.kind === 'peer') {
      this.deps.logger.debug({ digest: this.digest, peer: a.peerId, start: a.start, end: a.end }, 'peer request')
      const claim: Claim = { pos: a.start, end: a.end, source: 'peer', peerId: a.peerId, abort }
      const peers = this.deps.peers!
      const d = { peers, metrics: this.deps.metrics, logger: this.deps.logger, digest: this.digest, size: this.size, stallMs: this.o.peerStallMs, banMs: this.o.banMs }
      // With piece hashes, every byte is checked against them before it comes through.
      const hashes = this.pieceHashes.value
      this.run(claim, peerOpener(d, a.peerId, a.start, a.end, hashes, abort), false, hashes)
      return
    }
    // The request serves the reader it was planned for, in that reader's registry and repository.
    const ctx = (a.reader !== undefined ? readers[a.reader]?.ctx : undefined) ?? readers[0]?.ctx ?? this.origin!
    this.deps.logger.debug({ digest: this.digest, start: a.start, end: a.end, members }, 'upstream request')
    const claim: Claim = { pos: a.start, end: a.end, source: 'upstream', abort }
    if (this.probing && this.probeClaim === undefined) this.probeClaim = claim
    this.run(claim, upstreamOpener(this.deps.upstream, ctx, this.digest, this.size, a.start, a.end, abort.signal))
  }

  /** The probe request's bytes are in (or it failed): plan normally from here. */
  private endProbe (claim: Claim): void {
    if (this.probeClaim !== claim) return
    this.probeClaim = undefined
    this.probing = false
  }

  /** This session's peer transfer limit now: its own, within what the agent has left. */
  private peerTransferLimit (): number {
    const slots = this.deps.peerSlots
    if (slots === undefined) return this.o.maxPeerTransfers
    let mine = 0
    for (const c of this.claims) if (c.source === 'peer' && c.received !== true) mine++
    return Math.min(this.o.maxPeerTransfers, mine + slots.free())
  }

  private loadPieceHashes (peerId: string): void {
    const { peers, logger } = this.deps
    void this.pieceHashes.load(peers!, peerId, this.digest, this.size, this.o.peerStallMs, logger).finally(() => { this.plan() })
  }

  /**
   * Run one transfer; when it ends, decide what its failure means and plan again. `checked`: the
   * piece hashes the transfer checks every byte against.
   */
  private run (claim: Claim, open: Opener, lead = false, checked?: readonly Uint8Array[]): void {
    this.claims.add(claim)
    // A peer transfer holds one of the agent's slots until its bytes have all arrived.
    const slots = claim.source === 'peer' ? this.deps.peerSlots : undefined
    const releaseSlot = slots?.take() ?? (() => false)
    if (lead) this.leading = true
    if (claim.source === 'upstream') this.deps.onClaimsChange?.(this)
    const { logger, metrics } = this.deps
    void (async () => {
      try {
        await pump(this.entry, claim, open, (offset, chunk) => {
          // Counted as they arrive, before any reader has them (bytes served are split by these).
          this.received[claim.source] += chunk.length
          this.offer(offset, chunk)
        }, (n) => { metrics.bytesBySource.inc({ source: claim.source }, n) }, () => {
          // Everything arrived: plan the next transfer while these bytes are written. After the
          // lead, an agent that started this blob at the same moment is known through the mesh
          // by now; through the DHT a lookup finds it, without holding up this plan: bytes that
          // both of us claim meanwhile are settled when we see each other (yieldContested).
          if (lead) { this.leading = false; this.probing = (this.deps.peers?.neighbours() ?? 0) > 0 }
          this.endProbe(claim)
          const freed = releaseSlot()
          this.plan()
          if (freed) slots?.freed()
          if (lead) void this.deps.peers?.router.lookup(this.digest).then(() => { this.plan() }, () => {})
        }, checked)
      } catch (err: any) {
        const stalled = err instanceof NoProgressError
        if ((claim.abort.signal.aborted && !stalled) || this.isDone) return
        if (claim.source === 'peer') peerFailed({ peers: this.deps.peers!, metrics, logger, digest: this.digest, stallMs: this.o.peerStallMs }, claim.peerId!, claim.pos, err)
        else {
          this.state = 'paused'
          this.pauseReason = err instanceof Error ? err : new Error(String(err))
          // The disk is full: no source can help, stop the session (the manager drops the bytes).
          if (err instanceof StoreFullError) queueMicrotask(() => this.finish(err))
          logger.warn({ digest: this.digest, source: claim.source, at: claim.pos, err: errorMessage(err), code: err?.code }, 'transfer failed')
        }
      } finally {
        if (lead) this.leading = false
        if (!claim.abort.signal.aborted) claim.abort.abort()
        this.claims.delete(claim)
        this.endProbe(claim)
        const freed = releaseSlot()
        if (claim.source === 'upstream') this.deps.onClaimsChange?.(this)
        this.wake()
        if (!this.isDone) {
          this.plan()
          if (this.claims.size === 0 && this.readers.size === 0 && this.state === 'paused') this.finish(this.pauseReason)
        }
        // Sessions that waited for a slot of the agent's may take this one (after ours planned).
        if (freed) slots?.freed()
      }
    })()
  }

  private attached (): void {
    if (this.detachedTimer !== undefined) { clearTimeout(this.detachedTimer); this.detachedTimer = undefined }
  }

  private detached (): void {
    if (this.isDone || this.detachedTimer !== undefined) return
    if (this.claims.size === 0 && this.state === 'paused') { this.finish(this.pauseReason); return }
    this.detachedTimer = setTimeout(() => {
      this.deps.logger.info({ digest: this.digest }, 'no reader for too long: background fetch stopped (resumable)')
      this.finish()
    }, this.o.detachedTimeoutMs)
    this.detachedTimer.unref()
  }

  /** Stop everything (agent shutdown, completion, failure). */
  finish (err?: unknown): void {
    if (this.isDone) return
    const reason = err !== undefined ? (err instanceof Error ? err : new Error(String(err))) : this.pauseReason
    this.state = this.entry.complete ? 'complete' : reason !== undefined ? 'failed' : 'stopped'
    this.endError = this.state === 'complete' ? undefined : reason
    if (this.detachedTimer !== undefined) clearTimeout(this.detachedTimer)
    this.replan.clear()
    for (const c of this.claims) c.abort.abort()
    this.deps.peers?.health.forget(this.digest)
    this.wake()
    this.deps.onDone(this)
    this.resolveEnded()
  }
}
