// Pieces: the unit of peer transfers, per-piece hashes and the division of upstream work. The
// size is part of the peer protocol (docs/PROTOCOL.md): changing it is a protocol change.
export const PIECE_SIZE = 4 * 1024 * 1024;
/** Index of the piece that holds byte `pos`. */
export function pieceOf(pos) { return Math.floor(pos / PIECE_SIZE); }
/** First byte of the piece after the one that holds `pos`. */
export function nextPieceStart(pos) { return (pieceOf(pos) + 1) * PIECE_SIZE; }
/** [start, end) of piece `i` of a blob of `size` bytes. */
export function pieceBounds(i, size) {
    const start = i * PIECE_SIZE;
    return [start, Math.min(size, start + PIECE_SIZE)];
}
/** Number of pieces of a blob of `size` bytes. */
export function pieceCount(size) { return Math.ceil(size / PIECE_SIZE); }
//# sourceMappingURL=pieces.js.map