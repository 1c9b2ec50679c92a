// Framing and stream I/O for the layerd protocols.
//
// Frame = 4-byte unsigned big-endian length N (1 <= N <= limit) followed by N bytes of UTF-8 JSON.
// After a successful range/pieces response header the stream carries raw bytes, read without
// framing. See docs/PROTOCOL.md.
//
// StreamReader follows the libp2p v3 idioms that hold up under load (see
// /work/shared/notes/environment.md): a 'message' listener that pauses the stream above a
// high-water mark and resumes below a low one (no `pause()` inside `for await`), and the writer
// waits while `stream.writeBufferLength` is above a cap instead of trusting `send()`/`onDrain()`.
import { AbortedError, PeerProtocolError } from '../errors.js';
export const FRAME_HEADER_BYTES = 4;
/** A frame that is oversized, truncated, or not valid JSON/fields. `reason` feeds peerFailures. */
export class FrameError extends PeerProtocolError {
    reason;
    constructor(message, reason) {
        super(message);
        this.reason = reason;
    }
}
/** Encode one frame. Throws RangeError when the body would exceed `maxBytes` (a bug on our side). */
export function encodeFrame(value, maxBytes) {
    return encodeJsonFrame(JSON.stringify(value), maxBytes);
}
export function encodeJsonFrame(json, maxBytes) {
    const len = Buffer.byteLength(json, 'utf8');
    if (len === 0 || len > maxBytes)
        throw new RangeError(`frame of ${len} bytes exceeds the limit of ${maxBytes}`);
    const out = Buffer.allocUnsafe(FRAME_HEADER_BYTES + len);
    out.writeUInt32BE(len, 0);
    out.write(json, FRAME_HEADER_BYTES, 'utf8');
    return out;
}
/** Parse a frame body as a JSON object (not an array, not a primitive). */
export function parseFrameObject(body) {
    let value;
    try {
        value = JSON.parse(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8'));
    }
    catch {
        throw new FrameError('frame is not valid JSON', 'frame-malformed');
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value))
        throw new FrameError('frame is not a JSON object', 'frame-malformed');
    return value;
}
/**
 * Buffered reader over a libp2p v3 stream with receiver back-pressure. Chunks are handed out as
 * views into the received buffers (no copies), except when a small read spans chunks.
 */
export class StreamReader {
    stream;
    chunks = [];
    head = 0;
    buffered = 0;
    ended = false;
    closeError;
    wake;
    highWater;
    lowWater;
    signal;
    detached = false;
    /** Bytes the pending read waits for (the stream is not paused below this). */
    need = 0;
    constructor(stream, opts = {}) {
        this.stream = stream;
        this.highWater = opts.highWater ?? 2 * 1024 * 1024;
        this.lowWater = opts.lowWater ?? 512 * 1024;
        this.signal = opts.signal;
        stream.addEventListener('message', this.onMessage);
        stream.addEventListener('end', this.onEnd);
        stream.addEventListener('close', this.onClose);
        this.signal?.addEventListener('abort', this.onAbort);
        if (stream.readableEnded)
            this.ended = true;
    }
    /** Bytes buffered here and not yet consumed. */
    get bufferedBytes() { return this.buffered; }
    /** Stop listening (the stream's own buffer then fills up to its limit and resets the stream). */
    detach() {
        if (this.detached)
            return;
        this.detached = true;
        this.stream.removeEventListener('message', this.onMessage);
        this.stream.removeEventListener('end', this.onEnd);
        this.stream.removeEventListener('close', this.onClose);
        this.signal?.removeEventListener('abort', this.onAbort);
        this.notify();
    }
    /** Why the stream closed, if it closed with an error (reset, abort). */
    get error() { return this.closeError; }
    onMessage = (evt) => {
        const data = evt.data;
        if (data instanceof Uint8Array) {
            this.push(data);
        }
        else {
            for (const buf of data)
                this.push(buf);
        }
        if (this.buffered > Math.max(this.highWater, this.need) && this.stream.readStatus === 'readable') {
            try {
                this.stream.pause();
            }
            catch { /* closing */ }
        }
        this.notify();
    };
    push(buf) {
        if (buf.byteLength === 0)
            return;
        this.chunks.push(buf);
        this.buffered += buf.byteLength;
    }
    onEnd = () => {
        this.ended = true;
        this.notify();
    };
    onClose = (evt) => {
        if (evt.error != null)
            this.closeError = evt.error;
        // A close without error while we are paused may leave data in the stream's own buffer;
        // `fill` resumes the stream and 'end' follows once that buffer is empty.
        if (evt.error != null || this.stream.readBufferLength === 0)
            this.ended = true;
        this.notify();
    };
    onAbort = () => { this.notify(); };
    notify() {
        const w = this.wake;
        this.wake = undefined;
        w?.();
    }
    maybeResume() {
        if (this.buffered < this.lowWater && this.stream.readStatus === 'paused') {
            try {
                this.stream.resume();
            }
            catch { /* closed meanwhile */ }
        }
    }
    /** Wait until at least `n` bytes are buffered. Returns false at end of stream. */
    async fill(n, opts) {
        this.need = n;
        try {
            return await this.fillLoop(n, opts);
        }
        finally {
            this.need = 0;
        }
    }
    async fillLoop(n, opts) {
        while (this.buffered < n) {
            if (this.signal?.aborted === true)
                throw new AbortedError('read aborted');
            // We need more than we hold: let data flow whatever the water marks say.
            if (this.stream.readStatus === 'paused') {
                try {
                    this.stream.resume();
                }
                catch { /* closed meanwhile */ }
            }
            if (this.buffered >= n)
                break;
            if (this.detached)
                return false;
            if (this.ended) {
                // The stream may still hold bytes in its own buffer if it closed while paused.
                if (this.stream.readBufferLength > 0 && this.stream.readStatus === 'paused')
                    continue;
                return false;
            }
            await new Promise((resolve, reject) => {
                let timer;
                this.wake = () => { if (timer != null)
                    clearTimeout(timer); resolve(); };
                const ms = opts.idleTimeoutMs ?? 0;
                if (ms > 0) {
                    timer = setTimeout(() => {
                        this.wake = undefined;
                        reject(new FrameError(`no data from peer for ${ms} ms`, 'timeout'));
                    }, ms);
                }
            });
        }
        return true;
    }
    take(n) {
        const first = this.chunks[this.head];
        let out;
        if (first.byteLength >= n) {
            out = first.subarray(0, n);
            if (first.byteLength === n)
                this.shift();
            else
                this.chunks[this.head] = first.subarray(n);
        }
        else {
            out = new Uint8Array(n);
            let off = 0;
            while (off < n) {
                const c = this.chunks[this.head];
                const k = Math.min(c.byteLength, n - off);
                out.set(k === c.byteLength ? c : c.subarray(0, k), off);
                off += k;
                if (k === c.byteLength)
                    this.shift();
                else
                    this.chunks[this.head] = c.subarray(k);
            }
        }
        this.buffered -= n;
        this.maybeResume();
        return out;
    }
    shift() {
        this.chunks[this.head] = EMPTY;
        this.head++;
        if (this.head > 1024 || this.head === this.chunks.length) {
            this.chunks.splice(0, this.head);
            this.head = 0;
        }
    }
    /** Exactly `n` bytes, or null if the stream ends before any byte; a partial read throws. */
    async readExact(n, opts = {}) {
        if (!(await this.fill(n, opts))) {
            if (this.buffered === 0)
                return null;
            throw new FrameError(`stream ended after ${this.buffered} of ${n} bytes`, 'frame-truncated');
        }
        return this.take(n);
    }
    /** Up to `max` bytes as a view of one received buffer; null at end of stream. */
    async readSome(max, opts = {}) {
        if (!(await this.fill(1, opts)))
            return null;
        const first = this.chunks[this.head];
        return this.take(Math.min(max, first.byteLength));
    }
    /** One frame body (1..maxBytes bytes); null on a clean end of stream between frames. */
    async readFrame(maxBytes, opts = {}) {
        const hdr = await this.readExact(FRAME_HEADER_BYTES, opts);
        if (hdr == null)
            return null;
        const len = ((hdr[0] << 24) >>> 0) + (hdr[1] << 16) + (hdr[2] << 8) + hdr[3];
        if (len === 0)
            throw new FrameError('empty frame', 'frame-malformed');
        if (len > maxBytes)
            throw new FrameError(`frame of ${len} bytes exceeds the limit of ${maxBytes}`, 'frame-oversized');
        const body = await this.readExact(len, opts);
        if (body == null)
            throw new FrameError('stream ended inside a frame', 'frame-truncated');
        return body;
    }
}
const EMPTY = new Uint8Array(0);
/** The "capped writer": wait while the stream has more than `cap` bytes queued, then send. */
export async function sendCapped(stream, data, opts = {}) {
    const cap = opts.cap ?? 1024 * 1024;
    if (stream.writeBufferLength > cap)
        await waitWritable(stream, cap, opts);
    if (opts.signal?.aborted === true)
        throw new AbortedError('write aborted');
    if (stream.writeStatus !== 'writable')
        throw new PeerProtocolError(`stream is ${stream.writeStatus}`);
    stream.send(data);
}
async function waitWritable(stream, cap, opts) {
    let lastLength = stream.writeBufferLength;
    let lastProgress = Date.now();
    while (stream.writeBufferLength > cap) {
        if (opts.signal?.aborted === true)
            throw new AbortedError('write aborted');
        if (stream.writeStatus !== 'writable')
            throw new PeerProtocolError(`stream is ${stream.writeStatus}`);
        await new Promise(resolve => {
            const done = () => {
                clearTimeout(timer);
                stream.removeEventListener('drain', done);
                stream.removeEventListener('idle', done);
                stream.removeEventListener('close', done);
                opts.signal?.removeEventListener('abort', done);
                resolve();
            };
            // Safety net: re-check now and then even if no event arrives.
            const timer = setTimeout(done, 1000);
            stream.addEventListener('drain', done);
            stream.addEventListener('idle', done);
            stream.addEventListener('close', done);
            opts.signal?.addEventListener('abort', done);
        });
        const len = stream.writeBufferLength;
        const now = Date.now();
        if (len < lastLength) {
            lastLength = len;
            lastProgress = now;
        }
        const idle = opts.idleTimeoutMs ?? 0;
        if (idle > 0 && len > cap && now - lastProgress > idle) {
            throw new FrameError(`peer did not read for ${idle} ms`, 'timeout');
        }
    }
}
//# sourceMappingURL=frames.js.map