// /layerd/holdings/1.0.0: what do you hold of this one blob, and tell me when it changes. The
// per-blob exchange of the DHT router: only agents that want the same blob talk about it, so a
// change to one blob costs a message to the agents watching it, not to the whole office.
//
// The watcher opens a stream and sends {type:"watch", digest, holding} (its own holding of the
// blob, or null); then both sides send {type:"holding", holding} frames whenever theirs changes
// (progress at most every `throttleMs`, coordination at once). Either side ends it by closing.
// Both sides learn each other's holding: a provider also learns who else fetches the blob.
import { AbortedError, PeerRangeError, errorMessage } from '../errors.js';
import { Tasks } from '../util/tasks.js';
import { FrameError, StreamReader, encodeJsonFrame, parseFrameObject, sendCapped } from './frames.js';
import { entryJson } from './inventory/encode.js';
import { ChangeThrottler } from './inventory/throttle.js';
import { INVENTORY_FRAME_TARGET, MAX_RANGES_PER_ENTRY, asError, countFailure } from './protocol.js';
import { expectDigest, expectEntry } from './validate.js';
export const HOLDINGS_PROTOCOL = '/layerd/holdings/1.0.0';
const MAX_STREAMS = 256;
export class HoldingsService {
    components;
    init;
    /** digest → the open watches about it (both directions). */
    watches = new Map();
    tasks;
    stopController = new AbortController();
    constructor(components, init) {
        this.components = components;
        this.init = init;
        this.tasks = new Tasks(components.logger);
    }
    async start() {
        await this.components.libp2p.handle(HOLDINGS_PROTOCOL, (stream, conn) => { this.tasks.track(this.serve(stream, conn)); }, { maxInboundStreams: MAX_STREAMS, maxOutboundStreams: MAX_STREAMS });
    }
    async stop() {
        this.stopController.abort(new AbortedError('p2p stopping'));
        for (const set of this.watches.values())
            for (const w of set)
                w.throttle.stop();
        await this.tasks.settle();
    }
    /** Our holding of `digest` changed: tell every peer watching it. */
    changed(digest) {
        for (const w of this.watches.get(digest) ?? [])
            this.queue(w);
    }
    /** Close the watches we opened about `digest` (nobody here needs it any more). */
    close(digest) {
        for (const w of this.watches.get(digest) ?? [])
            if (w.opened)
                w.stream.abort(new AbortedError('no longer watched'));
    }
    /** Do we hear from `peer` about `digest` (a watch either way)? */
    watching(peer, digest) {
        for (const w of this.watches.get(digest) ?? [])
            if (w.peer === peer)
                return true;
        return false;
    }
    /**
     * Watch `peer` about `digest` over `conn`. Resolves once the peer's first answer arrived (or
     * throws); the watch then runs until close(), the stream ends, or stop().
     */
    async watch(peer, conn, digest, signal) {
        const stream = await conn.newStream(HOLDINGS_PROTOCOL, { signal: AbortSignal.any([signal, this.stopController.signal, AbortSignal.timeout(this.init.timeoutMs)]) });
        const reader = new StreamReader(stream, { highWater: 2 * INVENTORY_FRAME_TARGET, signal: this.stopController.signal });
        try {
            stream.send(frame('watch', this.init.mine(digest) ?? null, digest));
            const first = await this.readHolding(reader, digest);
            if (first === undefined)
                throw new PeerRangeError(`peer ${peer} closed the holdings stream without answering`);
            this.init.theirs(peer, digest, first);
            const w = this.register(peer, digest, stream, true);
            this.tasks.track(this.follow(w, reader));
            return first;
        }
        catch (err) {
            reader.detach();
            stream.abort(asError(err));
            throw err;
        }
    }
    async serve(stream, conn) {
        const peer = conn.remotePeer.toString();
        const reader = new StreamReader(stream, { highWater: 2 * INVENTORY_FRAME_TARGET, signal: this.stopController.signal });
        try {
            const body = await reader.readFrame(INVENTORY_FRAME_TARGET, { idleTimeoutMs: this.init.timeoutMs });
            if (body === null) {
                stream.abort(new FrameError('no watch request', 'frame-truncated'));
                reader.detach();
                return;
            }
            const msg = parseFrameObject(body);
            if (msg.type !== 'watch')
                throw new FrameError('expected a watch request', 'frame-malformed');
            const digest = expectDigest(msg.digest);
            const theirs = msg.holding === null || msg.holding === undefined ? null : this.entry(msg.holding, digest);
            const w = this.register(peer, digest, stream, false);
            this.init.theirs(peer, digest, theirs);
            this.send(w, this.init.mine(digest) ?? null);
            await this.follow(w, reader);
        }
        catch (err) {
            reader.detach();
            if (!(err instanceof AbortedError)) {
                countFailure(this.components.metrics, this.components.logger, peer, HOLDINGS_PROTOCOL, err);
                stream.abort(asError(err));
            }
        }
    }
    register(peer, digest, stream, opened) {
        const w = {
            peer,
            digest,
            stream,
            opened,
            throttle: new ChangeThrottler(this.init.throttleMs, (c) => { this.send(w, c.type === 'update' ? c.entry : null); })
        };
        let set = this.watches.get(digest);
        if (set === undefined) {
            set = new Set();
            this.watches.set(digest, set);
        }
        set.add(w);
        return w;
    }
    /** Read the peer's updates until the stream ends; then forget the watch. */
    async follow(w, reader) {
        try {
            for (;;) {
                const h = await this.readHolding(reader, w.digest);
                if (h === undefined)
                    break;
                this.init.theirs(w.peer, w.digest, h);
            }
        }
        catch (err) {
            if (!(err instanceof AbortedError) && w.stream.status === 'open') {
                countFailure(this.components.metrics, this.components.logger, w.peer, HOLDINGS_PROTOCOL, err);
            }
        }
        finally {
            reader.detach();
            w.throttle.stop();
            const set = this.watches.get(w.digest);
            set?.delete(w);
            if (set?.size === 0)
                this.watches.delete(w.digest);
            if (w.stream.status === 'open')
                w.stream.abort(new AbortedError('watch ended'));
            this.init.ended(w.peer, w.digest);
        }
    }
    /** The next holding frame; undefined at the end of the stream. */
    async readHolding(reader, digest) {
        const body = await reader.readFrame(INVENTORY_FRAME_TARGET);
        if (body === null)
            return undefined;
        const msg = parseFrameObject(body);
        if (msg.type !== 'holding')
            throw new FrameError('expected a holding frame', 'frame-malformed');
        return msg.holding === null ? null : this.entry(msg.holding, digest);
    }
    entry(raw, digest) {
        const e = expectEntry(raw, MAX_RANGES_PER_ENTRY);
        if (e.digest !== digest)
            throw new FrameError('holding of another blob', 'frame-malformed');
        return e;
    }
    queue(w) {
        const h = this.init.mine(w.digest);
        w.throttle.push(h === undefined ? { type: 'remove', digest: w.digest } : { type: 'update', entry: h });
    }
    send(w, h) {
        if (w.stream.writeStatus !== 'writable')
            return;
        sendCapped(w.stream, frame('holding', h), { signal: this.stopController.signal }).catch((err) => {
            this.components.logger.debug({ peer: w.peer, digest: w.digest, err: errorMessage(err) }, 'holdings update not sent');
        });
    }
}
/** A watch or holding frame; a holding with too many ranges is trimmed to fit (under-claiming is safe). */
function frame(type, h, digest) {
    const budget = INVENTORY_FRAME_TARGET - 128;
    const holding = h === null ? 'null' : (entryJson(h, budget) ?? 'null');
    const head = type === 'watch' ? `{"type":"watch","digest":${JSON.stringify(digest)},` : '{"type":"holding",';
    return encodeJsonFrame(`${head}"holding":${holding}}`, INVENTORY_FRAME_TARGET);
}
//# sourceMappingURL=holdings.js.map