// Piece checks for transports that deliver raw bytes (the libp2p range protocol): fetch the whole
// pieces around a range, hash each as it arrives, and let nothing of a piece through before its
// sha256 matched. The data plane does the same in its worker (data/fetch-worker.ts).
import { createHash } from 'node:crypto';
import { PeerProtocolError } from '../errors.js';
import { pieceBounds, pieceOf } from '../util/pieces.js';
import { BadPieceError } from './protocol.js';
export async function* verifiedRange(fetch, start, end, check) {
    for (let piece = pieceOf(start); piece <= pieceOf(end - 1); piece++) {
        const [pStart, pEnd] = pieceBounds(piece, check.size);
        const chunks = [];
        const h = createHash('sha256');
        let off = 0;
        for await (const chunk of fetch(pStart, pEnd)) {
            if (off + chunk.length > pEnd - pStart)
                throw new PeerProtocolError('peer sent more bytes than asked');
            h.update(chunk);
            chunks.push(chunk);
            off += chunk.length;
        }
        if (off !== pEnd - pStart)
            throw new PeerProtocolError(`peer sent ${off} of ${pEnd - pStart} bytes`);
        const want = check.hashes[piece];
        if (want === undefined || !h.digest().equals(want))
            throw new BadPieceError(piece, `piece ${piece} failed its sha256`);
        yield* sliceChunks(chunks, Math.max(start, pStart) - pStart, Math.min(end, pEnd) - pStart);
    }
}
/** The bytes [from, to) of a list of chunks, as views (no copy). */
function sliceChunks(chunks, from, to) {
    const out = [];
    let off = 0;
    for (const c of chunks) {
        const s = Math.max(from, off);
        const e = Math.min(to, off + c.length);
        if (e > s)
            out.push(s === off && e === off + c.length ? c : c.subarray(s - off, e - off));
        off += c.length;
    }
    return out;
}
//# sourceMappingURL=verify.js.map