// The piece planner: a pure function from what a fetch session knows (bytes present, transfers
// running, readers waiting, who holds what, who shares the upstream work) to what to start now.
// No clock, no I/O: every rule is testable with a table (test/unit/session/planner.test.ts).
//
// Rules, in order, for every missing byte that no transfer covers:
//  1. A peer that holds it supplies it (complete holders first, then the least loaded), piece by
//     piece, within the per-peer and total peer transfer limits; busy peers are skipped.
//  2. A byte a neighbour holds or has claimed from upstream, but which cannot be asked for right
//     now, waits for that neighbour (it never goes upstream a second time).
//  3. A piece owned by another member of the coalescing set (rendezvous hashing) waits for it.
//  4. Upstream takes the rest: a request starts where a reader waits (each reader may get its
//     own, up to maxUpstreamStreams), and one background request runs for the rest of the blob,
//     the next one starting while the previous one is finishing. Requests are closed segments of
//     at most segmentBytes, extended piece by piece over pieces this agent owns — one piece long
//     while other members share the blob.
//
// Two agents that planned at the same moment, before either heard of the other, may both have
// claimed the same bytes from upstream. `yieldContested` settles that as soon as they see each
// other: on a piece both claim, the owner keeps it and the other shortens its request.

import type { Holder } from '../routing/router.js'
import { nextPieceStart, pieceBounds, pieceOf, PIECE_SIZE } from '../util/pieces.js'
import { rangeEndAt, rangesCover, rangesHave, type RangeSet } from '../util/ranges.js'
import { isMine, type Member } from './ownership.js'

/** A running transfer: it will write [pos, end). */
export interface PlanClaim {
  pos: number
  end: number
  source: 'upstream' | 'peer'
  peerId?: string
  /** Everything arrived and is only being written: it no longer counts against transfer limits. */
  received?: boolean
}

export interface PlanReader {
  /** Next byte the reader wants. */
  pos: number
  /** One past its last byte. */
  end: number
}

export interface PlanOptions {
  segmentBytes: number
  maxUpstreamStreams: number
  maxPeerTransfers: number
  perPeerTransfers: number
}

export interface PlanInput {
  digest: string
  size: number
  present: RangeSet
  claims: readonly PlanClaim[]
  readers: readonly PlanReader[]
  /** Peers that may be asked for bytes of this blob (same size, not failed, not banned). */
  holders: readonly Holder[]
  /** Holders that answered BUSY a moment ago: not asked now, still holders. */
  busy: (peerId: string) => boolean
  /** The agents dividing the upstream work; the first is this agent. */
  members: readonly Member[]
  /** The fetching holders among the members (their claims count as "coming from a neighbour"). */
  fetchers: readonly Holder[]
  /** False after an upstream failure: nothing new starts upstream until a reader asks again. */
  upstreamOk: boolean
  /**
   * Per-piece hashes are known: peer transfers fetch and check whole pieces, so a partial holder
   * supplies a piece only once it holds all of it (asked for less, the transfer still asks for
   * the whole piece, and the holder refuses). @default false
   */
  wholePieces?: boolean
  /**
   * Right after a lead, with neighbours connected but no other member heard of yet: one upstream
   * request at a time, ending at the next piece boundary. An agent that joined the blob in the
   * last few hundred ms has not reached us yet; a claim of the whole rest would make both fetch
   * whatever it planned for itself. @default false
   */
  probe?: boolean
  opts: PlanOptions
}

export type PlanAction =
  | { kind: 'peer', peerId: string, start: number, end: number }
  /** `reader`: index of the reader this request serves; undefined for the background request. */
  | { kind: 'upstream', start: number, end: number, reader?: number }

export interface Plan {
  actions: PlanAction[]
  /** Some bytes wait for a neighbour: plan again later (owner stalls and busy peers are time-based). */
  waiting: boolean
}

export function plan (input: PlanInput): Plan {
  const { size, present, holders, members, fetchers, opts } = input
  const actions: PlanAction[] = []
  const self = members[0]?.id ?? 'self'
  const mine = (piece: number): boolean => members.length <= 1 || isMine(members, self, input.digest, piece)
  const heldByPeer = (pos: number): boolean =>
    holders.some(h => h.complete || rangesHave(h.ranges, pos)) || fetchers.some(h => rangesHave(h.claimed, pos))

  let upstreamCount = 0
  let peerCount = 0
  const perPeer = new Map<string, number>()
  for (const c of input.claims) {
    if (c.received === true) continue
    if (c.source === 'upstream') upstreamCount++
    else { peerCount++; perPeer.set(c.peerId ?? '', (perPeer.get(c.peerId ?? '') ?? 0) + 1) }
  }

  const taken = present.clone()
  for (const c of input.claims) taken.add(c.pos, c.end)
  const first = Math.min(...input.readers.map(r => r.pos), size)
  // Where readers wait: the first missing byte at or after each reader, if nothing covers it.
  const targets: Array<{ pos: number, reader: number }> = []
  if (input.upstreamOk) {
    input.readers.forEach((r, i) => {
      const p = present.firstMissing(r.pos)
      if (p < r.end && !taken.has(p)) targets.push({ pos: p, reader: i })
    })
  }
  // With other members, upstream requests are one piece long. Two members that planned at the
  // same moment may claim the same piece (yieldContested settles it); the one that gives it up
  // drops a request that has barely begun, instead of cutting a long response short — whose
  // bytes in flight (socket buffers, megabytes on a fast link) upstream has sent for nothing:
  // three agents starting one blob together lost 4.6 MB of 16 MB that way.
  const coordinated = members.length > 1
  // A probe (see PlanInput.probe) is one piece too.
  const onePiece = coordinated || input.probe === true
  // One background request at a time; the next may start once the running one is nearly done.
  const nearlyDone = coordinated ? PIECE_SIZE / 4 : opts.segmentBytes / 4
  let background = input.upstreamOk && !input.claims.some(c => c.source === 'upstream' && c.received !== true && c.end - c.pos > nearlyDone)

  const holds = (h: Holder, pos: number): boolean => {
    if (h.complete) return true
    if (input.wholePieces !== true) return rangesHave(h.ranges, pos)
    const [a, b] = pieceBounds(pieceOf(pos), size)
    return rangesCover(h.ranges, a, b)
  }
  const pickHolder = (pos: number): Holder | undefined => {
    if (peerCount >= opts.maxPeerTransfers) return undefined
    let best: Holder | undefined
    let bestScore = Infinity
    for (const h of holders) {
      if (!holds(h, pos)) continue
      if (input.busy(h.peerId)) continue
      const load = perPeer.get(h.peerId) ?? 0
      if (load >= opts.perPeerTransfers) continue
      // Prefer complete holders (their pieces can be verified), then the least loaded.
      const score = load * 2 + (h.complete ? 0 : 1)
      if (score < bestScore) { best = h; bestScore = score }
    }
    return best
  }

  // Gaps after the earliest reader first, then the ones before it.
  let gaps = taken.missing(0, size).toArray()
  gaps = [...gaps.filter(([, e]) => e > first), ...gaps.filter(([, e]) => e <= first)]
  let waiting = false
  for (const [a, b] of gaps) {
    let pos = a
    while (pos < b) {
      const pieceEnd = Math.min(b, nextPieceStart(pos))
      const h = pickHolder(pos)
      if (h !== undefined) {
        const end = Math.min(pieceEnd, h.complete ? size : rangeEndAt(h.ranges, pos))
        actions.push({ kind: 'peer', peerId: h.peerId, start: pos, end })
        peerCount++
        perPeer.set(h.peerId, (perPeer.get(h.peerId) ?? 0) + 1)
        pos = end
        continue
      }
      if (heldByPeer(pos)) { waiting = true; pos = pieceEnd; continue }
      if (!mine(pieceOf(pos))) { waiting = true; pos = pieceEnd; continue }
      const maxUpstream = input.probe === true ? 1 : opts.maxUpstreamStreams
      if (!input.upstreamOk || upstreamCount >= maxUpstream) { pos = pieceEnd; continue }
      // A reader waiting inside this piece gets the request at its byte; otherwise the
      // background request, if one may start now, begins here.
      const t = targets.find(x => x.pos >= pos && x.pos < pieceEnd)
      let start: number | undefined = t?.pos
      let reader = t?.reader
      if (start === undefined && background) { start = pos; reader = undefined; background = false }
      if (start === undefined) { pos = pieceEnd; continue }
      let end = Math.min(b, start + opts.segmentBytes, nextPieceStart(start))
      if (!onePiece) {
        const limit = Math.min(b, start + opts.segmentBytes)
        while (end < limit && mine(pieceOf(end)) && !heldByPeer(end)) end = Math.min(limit, end + PIECE_SIZE)
      }
      actions.push(reader === undefined ? { kind: 'upstream', start, end } : { kind: 'upstream', start, end, reader })
      upstreamCount++
      pos = end
    }
  }
  return { actions, waiting }
}

/**
 * The coalescing set: this agent, and every neighbour that is fetching the blob (not complete)
 * and whose holdings still grow (`progressing`); a neighbour that stalls loses its share.
 */
export function coalescingSet (self: string, holders: readonly Holder[], progressing: (h: Holder) => boolean): { members: Member[], fetchers: Holder[] } {
  const members: Member[] = [{ id: self }]
  const fetchers: Holder[] = []
  for (const h of holders) {
    if (!h.fetching || h.complete) continue
    if (!progressing(h)) continue
    members.push({ id: h.peerId })
    fetchers.push(h)
  }
  return { members, fetchers }
}

/**
 * Where each of this agent's running upstream requests must stop so that no byte is fetched from
 * upstream twice: at the first byte ahead of it that a neighbour already holds (it comes from
 * that neighbour instead), or at the first piece that a fetching neighbour also claims and owns
 * (rendezvous between the two of them). Returns, by index into `claims`, the new ends that are
 * shorter than the current ones; a request already inside such a piece stops where it is. Both
 * agents compute the same owner, so exactly one of them keeps each contested piece.
 */
export function yieldContested (digest: string, claims: readonly PlanClaim[], holders: readonly Holder[], fetchers: readonly Holder[], members: readonly Member[]): Map<number, number> {
  const out = new Map<number, number>()
  if (holders.length === 0) return out
  const self = members[0]?.id ?? 'self'
  claims.forEach((c, i) => {
    if (c.source !== 'upstream' || c.received === true || c.end <= c.pos) return
    let cut: number | undefined
    const earlier = (at: number): void => { if (cut === undefined || at < cut) cut = at }
    for (const h of holders) {
      if (h.complete) { earlier(c.pos); break }
      for (const [a, b] of h.ranges) if (a < c.end && b > c.pos) { earlier(Math.max(a, c.pos)); break }
    }
    if (members.length > 1) {
      for (const f of fetchers) {
        for (const [a, b] of f.claimed) {
          const s = Math.max(a, c.pos)
          const e = Math.min(b, c.end)
          if (s >= e) continue
          // The first piece in the overlap that is theirs (pieces that are ours we keep). Decided
          // between the two of us only: our views of the whole set can differ for a moment (that
          // is how both came to claim it), the pair's scores cannot, and since each member's
          // score per piece is fixed, of several claimants only the highest keeps it.
          const pair = [{ id: self }, { id: f.peerId }]
          for (let p = pieceOf(s); p * PIECE_SIZE < e; p++) {
            if (isMine(pair, self, digest, p)) continue
            earlier(Math.max(c.pos, p * PIECE_SIZE))
            break
          }
        }
      }
    }
    if (cut !== undefined && cut < c.end) out.set(i, cut)
  })
  return out
}
