// The pieces protocol (/layerd/pieces/1.0.0): the per-piece sha256 list of a blob the peer holds
// complete, so bytes from a partial holder can be checked piece by piece.
import { AbortedError, PeerProtocolError, errorMessage } from '../errors.js';
import { PIECE_SIZE, pieceCount } from '../util/pieces.js';
import { FrameError, encodeFrame, sendCapped } from './frames.js';
import { MAX_CONTROL_FRAME_BYTES, MAX_PIECES, PIECES_PROTOCOL, PeerRefusedError, ProtocolService, asError } from './protocol.js';
import { expectDigest, isSize } from './validate.js';
const HASH_BYTES = 32;
const MAX_STREAMS = 16;
export function piecesProtocol(components, init = {}) {
    return new PiecesService(components, init);
}
export class PiecesService extends ProtocolService {
    components;
    constructor(components, init = {}) {
        super(components, PIECES_PROTOCOL, MAX_STREAMS, init);
        this.components = components;
    }
    parseRequest(msg) {
        return expectDigest(msg.digest);
    }
    async answer(stream, peer, digest) {
        const entry = this.components.router.advertised(digest);
        if (entry === undefined) {
            await this.refuse(stream, 'BLOB_UNKNOWN', `${digest} is not held`);
            return;
        }
        if (!entry.complete) {
            await this.refuse(stream, 'NOT_COMPLETE', `${digest} is not complete here`);
            return;
        }
        try {
            const hashes = await this.components.local.pieceHashes(digest);
            if (hashes === undefined) {
                await this.refuse(stream, 'NOT_COMPLETE', `no piece hashes for ${digest}`);
                return;
            }
            if (hashes.length > MAX_PIECES || hashes.some(h => h.byteLength !== HASH_BYTES))
                throw new Error('local piece hashes are malformed');
            const body = Buffer.allocUnsafe(hashes.length * HASH_BYTES);
            hashes.forEach((h, i) => body.set(h, i * HASH_BYTES));
            stream.send(encodeFrame({ ok: true, pieceSize: PIECE_SIZE, count: hashes.length }, MAX_CONTROL_FRAME_BYTES));
            if (body.byteLength > 0)
                await sendCapped(stream, body, { signal: this.stopSignal, idleTimeoutMs: this.timeoutMs });
            await stream.close({ signal: AbortSignal.any([this.stopSignal, AbortSignal.timeout(this.timeoutMs)]) });
        }
        catch (err) {
            this.log.warn({ peer, digest, err: errorMessage(err) }, 'piece hashes upload failed');
            stream.abort(asError(err));
        }
    }
    /** Per-piece hashes of `digest` from a peer that holds it complete, or undefined. */
    async fetchPieceHashes(peerId, digest, signal) {
        const sig = this.begin(digest, signal);
        let stream;
        try {
            const r = await this.open(peerId, { digest }, sig);
            stream = r.stream;
            if (r.header.pieceSize !== PIECE_SIZE)
                throw new FrameError(`pieceSize ${String(r.header.pieceSize)} is not ${PIECE_SIZE}`, 'frame-malformed');
            const count = r.header.count;
            if (!isSize(count) || count > MAX_PIECES)
                throw new FrameError('count is not a valid piece count', 'frame-malformed');
            const size = this.components.router.holders(digest).find(h => h.peerId === peerId)?.size;
            if (size !== undefined && count !== pieceCount(size))
                throw new FrameError(`${count} pieces do not match a blob of ${size} bytes`, 'frame-malformed');
            const out = [];
            if (count > 0) {
                const bytes = await r.reader.readExact(count * HASH_BYTES, { idleTimeoutMs: this.timeoutMs });
                if (bytes === null)
                    throw new PeerProtocolError('peer closed the stream before the piece hashes');
                const copy = bytes.slice();
                for (let i = 0; i < count; i++)
                    out.push(copy.subarray(i * HASH_BYTES, (i + 1) * HASH_BYTES));
            }
            r.reader.detach();
            return out;
        }
        catch (err) {
            stream?.abort(new AbortedError('pieces fetch failed'));
            if (err instanceof PeerRefusedError && (err.peerCode === 'BLOB_UNKNOWN' || err.peerCode === 'NOT_COMPLETE'))
                return undefined;
            throw this.clientError(peerId, err, signal);
        }
    }
}
//# sourceMappingURL=pieces.js.map