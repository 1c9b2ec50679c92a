import { createHash } from 'node:crypto'

/** An agent that wants a blob and takes a share of its upstream work. */
export interface Member { id: string }

/**
 * Rendezvous (highest-random-weight) hashing: the owner of piece `i` of `digest` is the member
 * with the highest sha256(member || digest || i). Every agent that sees the same members picks
 * the same owner with no message exchanged, and when a member leaves only its pieces move.
 */
export function ownerOf (members: readonly Member[], digest: string, piece: number): string {
  let best = ''
  let bestScore: Buffer | undefined
  for (const m of members) {
    const score = createHash('sha256').update(m.id).update('\0').update(digest).update('\0').update(String(piece)).digest()
    if (bestScore === undefined || score.compare(bestScore) > 0 || (score.equals(bestScore) && m.id < best)) {
      best = m.id
      bestScore = score
    }
  }
  return best
}

export function isMine (members: readonly Member[], self: string, digest: string, piece: number): boolean {
  return ownerOf(members, digest, piece) === self
}
