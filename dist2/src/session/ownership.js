import { createHash } from 'node:crypto';
/**
 * Rendezvous (highest-random-weight) hashing: the owner of piece `i` of `digest` is the member
 * with the highest sha256(member || digest || i). Every agent that sees the same members picks
 * the same owner with no message exchanged, and when a member leaves only its pieces move.
 */
export function ownerOf(members, digest, piece) {
    let best = '';
    let bestScore;
    for (const m of members) {
        const score = createHash('sha256').update(m.id).update('\0').update(digest).update('\0').update(String(piece)).digest();
        if (bestScore === undefined || score.compare(bestScore) > 0 || (score.equals(bestScore) && m.id < best)) {
            best = m.id;
            bestScore = score;
        }
    }
    return best;
}
export function isMine(members, self, digest, piece) {
    return ownerOf(members, digest, piece) === self;
}
//# sourceMappingURL=ownership.js.map