import { createHash } from 'node:crypto';
import { PIECE_SIZE } from '../util/pieces.js';
/** sha256 of every piece of a complete blob, read from its file. */
export async function computePieceHashes(e) {
    const out = [];
    for (let off = 0; off < e.size; off += PIECE_SIZE) {
        const h = createHash('sha256');
        for await (const buf of e.read(off, Math.min(e.size, off + PIECE_SIZE), PIECE_SIZE))
            h.update(buf);
        out.push(h.digest());
    }
    return out;
}
//# sourceMappingURL=pieces.js.map