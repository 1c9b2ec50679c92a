import { createHash } from 'node:crypto'

/** An agent that wants a blob and takes a share of its upstream work. */
export interface Member { id: string }

/** Digests whose scores are kept (a session plans many times over the same pieces and members). */
const CACHED_DIGESTS = 256
/** digest → member id → score per piece. Map order is insertion order: the oldest digest goes first. */
const scores = new Map<string, Map<string, Buffer[]>>()

/** sha256(member || 0 || digest || 0 || piece), computed once per (digest, member, piece). */
function score (id: string, digest: string, piece: number): Buffer {
  let byMember = scores.get(digest)
  if (byMember === undefined) {
    if (scores.size >= CACHED_DIGESTS) scores.delete(scores.keys().next().value!)
    byMember = new Map()
    scores.set(digest, byMember)
  }
  let perPiece = byMember.get(id)
  if (perPiece === undefined) { perPiece = []; byMember.set(id, perPiece) }
  let s = perPiece[piece]
  if (s === undefined) {
    s = createHash('sha256').update(id).update('\0').update(digest).update('\0').update(String(piece)).digest()
    perPiece[piece] = s
  }
  return s
}

/**
 * Rendezvous (highest-random-weight) hashing: the owner of piece `i` of `digest` is the member
 * with the highest sha256(member || digest || i). Every agent that sees the same members picks
 * the same owner with no message exchanged, and when a member leaves only its pieces move.
 */
export function ownerOf (members: readonly Member[], digest: string, piece: number): string {
  let best = ''
  let bestScore: Buffer | undefined
  for (const m of members) {
    const s = score(m.id, digest, piece)
    const cmp = bestScore === undefined ? 1 : s.compare(bestScore)
    if (cmp > 0 || (cmp === 0 && m.id < best)) {
      best = m.id
      bestScore = s
    }
  }
  return best
}

export function isMine (members: readonly Member[], self: string, digest: string, piece: number): boolean {
  return ownerOf(members, digest, piece) === self
}
