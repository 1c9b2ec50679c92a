import { AbortedError, NoProgressError, PeerProtocolError, StoreFullError, errorMessage } from '../errors.js';
import { DEFAULTS } from '../config/defaults.js';
import { pieceCount } from '../util/pieces.js';
import { rangesBytes } from '../util/ranges.js';
import { coalescingSet, plan, yieldContested } from './planner.js';
import { resolveSessionOptions } from './options.js';
import { peerOpener, pump, upstreamOpener } from './transfers.js';
import { Waiters } from './waiters.js';
/** Bytes a reader may hold from memory before it is left to catch up from the file. */
const READER_QUEUE_BYTES = 4 * 1024 * 1024;
/**
 * One fetch session per digest, shared by every reader of that digest (local clients; peers read
 * the store). It asks the planner which missing bytes to fetch from where, runs the transfers,
 * streams present bytes to readers in order as they arrive, and keeps going in the background
 * after readers leave, so a client's retry resumes from disk.
 */
export class FetchSession {
    deps;
    digest;
    entry;
    state = 'active';
    /** Why upstream is paused (state `paused`). */
    pauseReason;
    /** Why the session ended (terminal states). */
    endError;
    claims = new Set();
    readers = new Set();
    /** The context that opened the session: background requests use it when no reader is attached. */
    origin;
    detachedTimer;
    replanTimer;
    /**
     * The lead request of a cold blob with neighbours around is running: nothing else is planned
     * until it ends, by when agents that started at the same moment have seen each other.
     */
    leading = false;
    /** Per-piece hashes from a verified holder: `loading` while asked, then the hashes or none. */
    pieceHashes = { state: 'none' };
    /** Bytes of this blob by where they came from: on disk when the session opened, received from peers and upstream. */
    received;
    /** Settles when the session ends (complete, failed or stopped: see `status`). */
    ended;
    resolveEnded;
    o;
    waiters = new Waiters();
    constructor(deps) {
        this.deps = deps;
        this.entry = deps.entry;
        this.digest = deps.entry.digest;
        this.o = resolveSessionOptions(deps.init);
        this.received = { local: this.entry.present.bytes, peer: 0, upstream: 0 };
        this.ended = new Promise(resolve => { this.resolveEnded = resolve; });
        this.entry.completion.then(() => this.finish(), (err) => this.finish(err));
    }
    get size() { return this.entry.size; }
    get status() { return this.state; }
    get paused() { return this.state === 'paused'; }
    get isDone() { return this.state === 'complete' || this.state === 'failed' || this.state === 'stopped'; }
    get activeTransfers() { return this.claims.size; }
    /** Bytes of this blob that came from peers (a whole-blob mismatch then disables peers for it). */
    get peerBytes() { return this.received.peer; }
    get presentBytes() { return this.entry.present.bytes; }
    /** The error the session ended with (or upstream is paused on), if any. */
    get error() { return this.endError ?? this.pauseReason; }
    /** Byte ranges being fetched from upstream right now (advertised to neighbours as `claimed`). */
    upstreamClaims() {
        const out = [];
        for (const c of this.claims)
            if (c.source === 'upstream' && c.end > c.pos)
                out.push([c.pos, c.end]);
        return out.sort((a, b) => a[0] - b[0]);
    }
    /**
     * Adopt an upstream response that is already open (the request that told us the size). A
     * `lead` response holds back all other planning until it ends (see `lead()`).
     */
    adoptUpstream(ctx, start, end, body, abort, lead = false) {
        this.origin ??= ctx;
        const claim = { pos: start, end: Math.min(end, this.nextBoundary(start)), source: 'upstream', abort };
        this.run(claim, async () => body, lead);
    }
    /**
     * Coalescing without a timer: fetch [0, end) from upstream at once, announced as claimed, and
     * plan the rest of the blob only when it is done. An agent that starts the same blob at the
     * same moment hears of this one in a LAN round trip, well within that time, so the two then
     * divide the rest between them; what they both fetched is at most this lead.
     */
    lead(ctx, end) {
        this.origin ??= ctx;
        const abort = new AbortController();
        const claim = { pos: 0, end: Math.min(end, this.nextBoundary(0)), source: 'upstream', abort };
        this.run(claim, upstreamOpener(this.deps.upstream, ctx, this.digest, this.size, claim.pos, claim.end, abort.signal), true);
        if (this.readers.size === 0)
            this.detached();
    }
    /**
     * Stream bytes [start, end) to a reader, in order, as they become present. The last bytes of
     * the blob are released only after the whole blob verified.
     */
    async *stream(ctx, start, end, signal) {
        this.origin ??= ctx;
        // A new request is the user asking again: upstream may be tried again.
        if (this.state === 'paused') {
            this.state = 'active';
            this.pauseReason = undefined;
        }
        const reader = { pos: start, end, ctx, queue: [], queued: 0 };
        this.readers.add(reader);
        this.attached();
        try {
            while (reader.pos < end) {
                if (signal?.aborted === true)
                    throw new AbortedError('client went away');
                if (this.entry.failed !== undefined)
                    throw this.entry.failed;
                if (reader.queue.length > 0) {
                    // Straight from the transfers that received them, all that queued up at once (the
                    // caller writes them in one go): no write-then-read round trip, no copy.
                    const chunks = reader.queue.map(c => Buffer.isBuffer(c) ? c : Buffer.from(c.buffer, c.byteOffset, c.byteLength));
                    reader.queue = [];
                    reader.pos += reader.queued;
                    reader.queued = 0;
                    yield chunks;
                    continue;
                }
                const present = this.entry.present;
                const runEnd = Math.min(present.contiguousEnd(reader.pos), end);
                // Hold back the tail of the blob until verification: a client never receives every byte
                // of a blob that fails its digest.
                const limit = end === this.size && !this.entry.complete ? Math.max(reader.pos, this.size - this.o.tailHoldBytes) : end;
                const upto = Math.min(runEnd, limit);
                if (upto > reader.pos) {
                    for await (const buf of this.entry.read(reader.pos, upto)) {
                        reader.pos += buf.length;
                        yield [buf];
                    }
                    continue;
                }
                if (runEnd > reader.pos) {
                    // Only the held-back tail remains and it is all here: wait for the verdict.
                    await this.wait(signal, this.entry.completion);
                    continue;
                }
                if (this.paused && !this.isClaimed(reader.pos))
                    throw this.pauseReason;
                if (this.isDone)
                    throw this.endError ?? new AbortedError('fetch session stopped');
                this.plan();
                await this.wait(signal);
            }
        }
        finally {
            this.readers.delete(reader);
            if (this.readers.size === 0)
                this.detached();
        }
    }
    /** Make sure the whole blob gets fetched even if no reader asks for the rest. */
    ensureBackground(ctx) {
        this.origin ??= ctx;
        this.plan();
        if (this.readers.size === 0)
            this.detached();
    }
    /** Until the next change: bytes written, a transfer ended, `extra` settled, or `signal` aborted. */
    async wait(signal, extra) {
        await this.waiters.wait(signal, [this.entry.changed(), ...(extra !== undefined ? [extra] : [])]);
    }
    wake() { this.waiters.wake(); }
    isClaimed(pos) {
        for (const c of this.claims)
            if (c.pos <= pos && pos < c.end)
                return true;
        return false;
    }
    /** First byte after `pos` that is present or claimed by another worker (or the size). */
    nextBoundary(pos) {
        let b = this.entry.present.nextPresent(pos) ?? this.size;
        for (const c of this.claims)
            if (c.pos > pos && c.pos < b)
                b = c.pos;
        return b;
    }
    /**
     * A transfer received bytes at `offset` (verified, for peer pieces): hand them to every reader
     * that wants exactly them next and keeps up, so it does not wait for the disk. The tail of the
     * blob stays held back until the whole blob verified.
     */
    offer(offset, chunk) {
        if (this.readers.size === 0)
            return;
        const hold = this.size - this.o.tailHoldBytes;
        for (const r of this.readers) {
            if (r.pos + r.queued !== offset || r.queued >= READER_QUEUE_BYTES)
                continue;
            const limit = r.end === this.size ? Math.min(r.end, hold) : r.end;
            const take = Math.min(chunk.length, limit - offset);
            if (take <= 0)
                continue;
            r.queue.push(take === chunk.length ? chunk : chunk.subarray(0, take));
            r.queued += take;
        }
        this.wake();
    }
    /**
     * Neighbours that hold or fetch this blob: same size, and no failed transfer of it in the last
     * peerStallMs (what such a peer advertises cannot be counted on: its bytes and its share go
     * to other sources, upstream last). A peer that was merely BUSY stays.
     */
    holders() {
        const peers = this.deps.peers;
        if (peers === undefined)
            return [];
        return peers.router.holders(this.digest).filter(h => h.size === this.size && !peers.health.hasFailed(h.peerId, this.digest));
    }
    /** Decide what to fetch from where (src/session/planner.ts) and start it. */
    plan() {
        if (this.isDone || this.entry.complete || this.entry.failed !== undefined || this.origin === undefined || this.leading)
            return;
        const holders = this.holders();
        const complete = holders.find(h => h.complete);
        if (complete !== undefined && this.pieceHashes.state === 'none') {
            // Pieces from peers are checked against hashes from a verified holder as they arrive.
            this.loadPieceHashes(complete.peerId);
            return;
        }
        if (this.pieceHashes.state === 'loading')
            return;
        const peers = this.deps.peers;
        const { members, fetchers } = coalescingSet(peers?.peerId ?? 'self', holders, (h) => peers === undefined || peers.health.progressing(h.peerId, this.digest, rangesBytes(h.ranges), this.o.ownerStallMs));
        // Bytes a neighbour holds by now, or claimed at the same moment as we did (the owner of each
        // piece keeps it): our upstream requests stop short of them.
        const claims = [...this.claims];
        for (const [i, end] of yieldContested(this.digest, claims, holders, fetchers, members)) {
            const c = claims[i];
            this.deps.logger.debug({ digest: this.digest, from: c.pos, end: c.end, now: end }, 'upstream request shortened: a neighbour fetches the rest');
            c.end = end;
            if (c.end <= c.pos)
                c.abort.abort();
            this.deps.onClaimsChange?.(this);
        }
        const readers = [...this.readers];
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
            opts: this.o
        });
        for (const a of p.actions)
            this.start(a, readers, members.length);
        if (p.waiting)
            this.scheduleReplan();
    }
    start(a, readers, members) {
        const abort = new AbortController();
        if (a.kind === 'peer') {
            this.deps.logger.debug({ digest: this.digest, peer: a.peerId, start: a.start, end: a.end }, 'peer request');
            const claim = { pos: a.start, end: a.end, source: 'peer', peerId: a.peerId, abort };
            const peers = this.deps.peers;
            const d = { peers, metrics: this.deps.metrics, logger: this.deps.logger, digest: this.digest, size: this.size, stallMs: this.o.peerStallMs, banMs: this.o.banMs };
            this.run(claim, peerOpener(d, a.peerId, a.start, a.end, this.pieceHashes.value, abort));
            return;
        }
        // The request serves the reader it was planned for, in that reader's registry and repository.
        const ctx = (a.reader !== undefined ? readers[a.reader]?.ctx : undefined) ?? readers[0]?.ctx ?? this.origin;
        this.deps.logger.debug({ digest: this.digest, start: a.start, end: a.end, members }, 'upstream request');
        const claim = { pos: a.start, end: a.end, source: 'upstream', abort };
        this.run(claim, upstreamOpener(this.deps.upstream, ctx, this.digest, this.size, a.start, a.end, abort.signal));
    }
    /** Re-plan later: owner stalls and peer slots are time-based. */
    scheduleReplan() {
        if (this.replanTimer !== undefined || this.isDone)
            return;
        // Not unref'd: a session waiting on a neighbour is work in progress (finish() clears it).
        // Short: a busy peer is asked again after busyRetryMs; planning is cheap.
        this.replanTimer = setTimeout(() => { this.replanTimer = undefined; this.plan(); }, DEFAULTS.fetch.replanMs);
    }
    loadPieceHashes(peerId) {
        this.pieceHashes = { state: 'loading' };
        const timeout = AbortSignal.timeout(this.o.peerStallMs);
        this.deps.peers.transfers.fetchPieceHashes(peerId, this.digest, timeout).then((hashes) => {
            const ok = hashes !== undefined && hashes.length === pieceCount(this.size);
            this.pieceHashes = { state: 'done', value: ok ? hashes : undefined };
        }, (err) => {
            this.deps.logger.debug({ digest: this.digest, peer: peerId, err: errorMessage(err) }, 'no piece hashes from peer');
            this.pieceHashes = { state: 'done' };
        }).finally(() => { this.plan(); });
    }
    /** Run one transfer; when it ends, decide what its failure means and plan again. */
    run(claim, open, lead = false) {
        this.claims.add(claim);
        if (lead)
            this.leading = true;
        if (claim.source === 'upstream')
            this.deps.onClaimsChange?.(this);
        const { logger, metrics } = this.deps;
        void (async () => {
            try {
                await pump(this.entry, claim, open, (offset, chunk) => {
                    // Counted as they arrive, before any reader has them (bytes served are split by these).
                    this.received[claim.source] += chunk.length;
                    this.offer(offset, chunk);
                }, (n) => { metrics.bytesBySource.inc({ source: claim.source }, n); }, () => {
                    // Everything arrived: plan the next transfer while these bytes are written. After the
                    // lead, an agent that started this blob at the same moment is known through the mesh
                    // by now; through the DHT a lookup finds it, without holding up this plan: bytes that
                    // both of us claim meanwhile are settled when we see each other (yieldContested).
                    if (lead)
                        this.leading = false;
                    this.plan();
                    if (lead)
                        void this.deps.peers?.router.lookup(this.digest).then(() => { this.plan(); }, () => { });
                });
            }
            catch (err) {
                const stalled = err instanceof NoProgressError;
                if ((claim.abort.signal.aborted && !stalled) || this.isDone)
                    return;
                if (claim.source === 'peer')
                    this.peerFailed(claim, err);
                else {
                    this.state = 'paused';
                    this.pauseReason = err instanceof Error ? err : new Error(String(err));
                    // The disk is full: no source can help, stop the session (the manager drops the bytes).
                    if (err instanceof StoreFullError)
                        queueMicrotask(() => this.finish(err));
                    logger.warn({ digest: this.digest, source: claim.source, at: claim.pos, err: errorMessage(err), code: err?.code }, 'transfer failed');
                }
            }
            finally {
                if (lead)
                    this.leading = false;
                if (!claim.abort.signal.aborted)
                    claim.abort.abort();
                this.claims.delete(claim);
                if (claim.source === 'upstream')
                    this.deps.onClaimsChange?.(this);
                this.wake();
                if (!this.isDone) {
                    this.plan();
                    if (this.claims.size === 0 && this.readers.size === 0 && this.state === 'paused')
                        this.finish(this.pauseReason);
                }
            }
        })();
    }
    /** Peers are never the fallback: skip this one for a moment, plan again. */
    peerFailed(claim, err) {
        const peers = this.deps.peers;
        const peerId = claim.peerId;
        // BUSY only means its upload slots are taken for now (often by the piece we just finished,
        // not yet released on its side): ask again shortly.
        if (err?.peerCode === 'BUSY') {
            peers.health.busy(peerId, DEFAULTS.fetch.busyRetryMs);
            this.deps.logger.debug({ digest: this.digest, peer: peerId, at: claim.pos }, 'peer busy; asking again shortly');
            return;
        }
        peers.health.failed(peerId, this.digest, this.o.peerStallMs);
        if (!(err instanceof NoProgressError) && !(err instanceof PeerProtocolError)) {
            this.deps.metrics.peerFailures.inc({ peer: peerId, reason: err?.peerCode ?? err?.code ?? 'error' });
        }
        this.deps.logger.info({ digest: this.digest, peer: peerId, at: claim.pos, err: errorMessage(err) }, 'peer transfer failed; trying another source');
    }
    attached() {
        if (this.detachedTimer !== undefined) {
            clearTimeout(this.detachedTimer);
            this.detachedTimer = undefined;
        }
    }
    detached() {
        if (this.isDone || this.detachedTimer !== undefined)
            return;
        if (this.claims.size === 0 && this.state === 'paused') {
            this.finish(this.pauseReason);
            return;
        }
        this.detachedTimer = setTimeout(() => {
            this.deps.logger.info({ digest: this.digest }, 'no reader for too long: background fetch stopped (resumable)');
            this.finish();
        }, this.o.detachedTimeoutMs);
        this.detachedTimer.unref();
    }
    /** Stop everything (agent shutdown, completion, failure). */
    finish(err) {
        if (this.isDone)
            return;
        const reason = err !== undefined ? (err instanceof Error ? err : new Error(String(err))) : this.pauseReason;
        this.state = this.entry.complete ? 'complete' : reason !== undefined ? 'failed' : 'stopped';
        this.endError = this.state === 'complete' ? undefined : reason;
        for (const t of [this.detachedTimer, this.replanTimer])
            if (t !== undefined)
                clearTimeout(t);
        for (const c of this.claims)
            c.abort.abort();
        this.deps.peers?.health.forget(this.digest);
        this.wake();
        this.deps.onDone(this);
        this.resolveEnded();
    }
}
//# sourceMappingURL=session.js.map