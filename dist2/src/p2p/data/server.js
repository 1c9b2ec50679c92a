// The data server: `GET /blobs/<digest>` with `Range: bytes=a-b` over HTTPS (TLS 1.3 PSK, see
// keys.ts), for peers only. It serves exactly the bytes we advertise, takes an upload slot per
// request (BUSY beyond), paces by the shared upload rate and follows the client's back-pressure.
// Answers: 206 with the bytes; errors as JSON {code, message} with the status below.
import { constants } from 'node:crypto';
import { once } from 'node:events';
import { createServer } from 'node:https';
import { AbortedError, PeerRangeError, errorMessage } from '../../errors.js';
import { isSha256Digest } from '../../oci/reference.js';
import { rangesCover } from '../../util/ranges.js';
import { DATA_TLS, dataKey } from './keys.js';
const STATUS = {
    BAD_REQUEST: 400, BANNED: 403, BLOB_UNKNOWN: 404, RANGE_NOT_HELD: 416, OUT_OF_BOUNDS: 416, BUSY: 429, NOT_COMPLETE: 409, INTERNAL: 500
};
const PATH = /^\/blobs\/(sha256:[a-f0-9]{64})$/;
const RANGE = /^bytes=(\d{1,16})-(\d{1,16})$/;
/** Rate-limited sends spend tokens in pieces of at most this, so they stay smooth. */
const PACE_BYTES = 256 * 1024;
/** The peer a TLS connection authenticated as (its PSK identity). */
const peerOf = new WeakMap();
export class DataServer {
    components;
    init;
    server;
    boundPort;
    constructor(components, init) {
        this.components = components;
        this.init = init;
    }
    /** The port we listen on (after start). */
    get port() { return this.boundPort; }
    async start() {
        const { components: c, init } = this;
        const server = createServer({
            ...DATA_TLS,
            pskCallback: (socket, identity) => {
                // Only a peer connected over libp2p (noise authenticated its id) and not banned.
                if (!c.connections.isConnected(identity) || c.health.isBanned(identity))
                    return null;
                peerOf.set(socket, identity);
                return dataKey(init.secret, identity, init.self);
            },
            // No session resumption: every connection proves the key again, and its PSK identity says
            // which peer it is (a resumed session would skip pskCallback).
            secureOptions: constants.SSL_OP_NO_TICKET,
            keepAliveTimeout: 30_000,
            requestTimeout: 0
        }, (req, res) => { this.handle(req, res).catch(err => { c.logger.warn({ err: errorMessage(err) }, 'data plane request failed'); res.destroy(); }); });
        server.on('tlsClientError', (err) => { c.logger.debug({ err: errorMessage(err) }, 'data plane handshake refused'); });
        server.setTimeout(init.timeoutMs);
        server.listen(init.port, init.host);
        await Promise.race([once(server, 'listening'), once(server, 'error').then(([err]) => { throw err; })]);
        const addr = server.address();
        this.boundPort = typeof addr === 'object' && addr !== null ? addr.port : undefined;
        this.server = server;
    }
    async stop() {
        const server = this.server;
        this.server = undefined;
        if (server === undefined)
            return;
        await new Promise(resolve => { server.close(() => resolve()); server.closeAllConnections(); });
    }
    async handle(req, res) {
        const { components: c } = this;
        const peer = peerOf.get(req.socket);
        if (peer === undefined) {
            refuse(res, 'BANNED', 'unknown peer');
            return;
        }
        const m = req.method === 'GET' ? PATH.exec(req.url ?? '') : null;
        const r = RANGE.exec(req.headers.range ?? '');
        if (m === null || r === null) {
            refuse(res, 'BAD_REQUEST', 'expected GET /blobs/<digest> with Range: bytes=a-b');
            return;
        }
        const digest = m[1];
        const start = Number(r[1]);
        const end = Number(r[2]) + 1;
        if (!isSha256Digest(digest) || !Number.isSafeInteger(end) || end <= start) {
            refuse(res, 'BAD_REQUEST', 'bad digest or range');
            return;
        }
        if (c.health.isBanned(peer)) {
            refuse(res, 'BANNED', 'you are banned');
            return;
        }
        const entry = c.router.advertised(digest);
        if (entry === undefined) {
            refuse(res, 'BLOB_UNKNOWN', `${digest} is not held`);
            return;
        }
        if (end > entry.size) {
            refuse(res, 'OUT_OF_BOUNDS', `range ${start}-${end} outside blob of ${entry.size} bytes`);
            return;
        }
        if (!rangesCover(entry.ranges, start, end)) {
            refuse(res, 'RANGE_NOT_HELD', `bytes ${start}-${end} are not all held`);
            return;
        }
        const slot = c.uploads.acquire(peer);
        if (slot === undefined) {
            refuse(res, 'BUSY', c.uploads.busyMessage(peer));
            return;
        }
        res.on('close', () => { slot.abort(new AbortedError('client went away')); });
        let it;
        let sent = 0;
        try {
            it = c.local.read(digest, start, end, slot.signal)[Symbol.asyncIterator]();
            let next;
            try {
                next = await it.next();
            }
            catch (err) {
                if (err instanceof PeerRangeError) {
                    refuse(res, 'RANGE_NOT_HELD', errorMessage(err));
                    return;
                }
                throw err;
            }
            res.writeHead(206, { 'content-type': 'application/octet-stream', 'content-length': end - start, 'content-range': `bytes ${start}-${end - 1}/${entry.size}` });
            const out = c.metrics.peerBytesOut.labels({ peer });
            const bucket = c.uploads.bucket;
            while (next.done !== true) {
                let chunk = next.value;
                while (chunk.byteLength > 0) {
                    const part = bucket.unlimited ? chunk : chunk.subarray(0, PACE_BYTES);
                    await bucket.take(part.byteLength, slot.signal);
                    if (!res.write(part))
                        await drained(res);
                    if (slot.signal.aborted)
                        throw new AbortedError('upload aborted');
                    out.inc(part.byteLength);
                    sent += part.byteLength;
                    chunk = chunk.subarray(part.byteLength);
                }
                next = await it.next();
            }
            if (sent !== end - start)
                throw new Error(`local.read ended after ${sent} of ${end - start} bytes`);
            res.end();
        }
        catch (err) {
            if (!slot.signal.aborted)
                c.logger.warn({ peer, digest, start, end, err: errorMessage(err) }, 'upload failed');
            if (!res.headersSent)
                refuse(res, 'INTERNAL', 'read failed');
            else
                res.destroy();
        }
        finally {
            await it?.return?.().catch(() => { });
            slot.release();
        }
    }
}
function refuse(res, code, message) {
    const body = JSON.stringify({ code, message });
    res.writeHead(STATUS[code], { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
}
async function drained(res) {
    if (res.destroyed)
        return;
    await new Promise(resolve => {
        const done = () => { res.off('drain', done); res.off('close', done); resolve(); };
        res.on('drain', done);
        res.on('close', done);
    });
}
//# sourceMappingURL=server.js.map