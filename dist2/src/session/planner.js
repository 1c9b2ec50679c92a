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
//     at most segmentBytes, extended piece by piece over pieces this agent owns.
//
// Two agents that planned at the same moment, before either heard of the other, may both have
// claimed the same bytes from upstream. `yieldContested` settles that as soon as they see each
// other: on a piece both claim, the owner keeps it and the other shortens its request.
import { nextPieceStart, pieceOf, PIECE_SIZE } from '../util/pieces.js';
import { rangeEndAt, rangesHave } from '../util/ranges.js';
import { isMine } from './ownership.js';
export function plan(input) {
    const { size, present, holders, members, fetchers, opts } = input;
    const actions = [];
    const self = members[0]?.id ?? 'self';
    const mine = (piece) => members.length <= 1 || isMine(members, self, input.digest, piece);
    const heldByPeer = (pos) => holders.some(h => h.complete || rangesHave(h.ranges, pos)) || fetchers.some(h => rangesHave(h.claimed, pos));
    let upstreamCount = 0;
    let peerCount = 0;
    const perPeer = new Map();
    for (const c of input.claims) {
        if (c.received === true)
            continue;
        if (c.source === 'upstream')
            upstreamCount++;
        else {
            peerCount++;
            perPeer.set(c.peerId ?? '', (perPeer.get(c.peerId ?? '') ?? 0) + 1);
        }
    }
    const taken = present.clone();
    for (const c of input.claims)
        taken.add(c.pos, c.end);
    const first = Math.min(...input.readers.map(r => r.pos), size);
    // Where readers wait: the first missing byte at or after each reader, if nothing covers it.
    const targets = [];
    if (input.upstreamOk) {
        input.readers.forEach((r, i) => {
            const p = present.firstMissing(r.pos);
            if (p < r.end && !taken.has(p))
                targets.push({ pos: p, reader: i });
        });
    }
    // One background request at a time; the next may start once the running one is nearly done.
    let background = input.upstreamOk && !input.claims.some(c => c.source === 'upstream' && c.received !== true && c.end - c.pos > opts.segmentBytes / 4);
    const pickHolder = (pos) => {
        if (peerCount >= opts.maxPeerTransfers)
            return undefined;
        let best;
        let bestScore = Infinity;
        for (const h of holders) {
            if (!h.complete && !rangesHave(h.ranges, pos))
                continue;
            if (input.busy(h.peerId))
                continue;
            const load = perPeer.get(h.peerId) ?? 0;
            if (load >= opts.perPeerTransfers)
                continue;
            // Prefer complete holders (their pieces can be verified), then the least loaded.
            const score = load * 2 + (h.complete ? 0 : 1);
            if (score < bestScore) {
                best = h;
                bestScore = score;
            }
        }
        return best;
    };
    // Gaps after the earliest reader first, then the ones before it.
    let gaps = taken.missing(0, size).toArray();
    gaps = [...gaps.filter(([, e]) => e > first), ...gaps.filter(([, e]) => e <= first)];
    let waiting = false;
    for (const [a, b] of gaps) {
        let pos = a;
        while (pos < b) {
            const pieceEnd = Math.min(b, nextPieceStart(pos));
            const h = pickHolder(pos);
            if (h !== undefined) {
                const end = Math.min(pieceEnd, h.complete ? size : rangeEndAt(h.ranges, pos));
                actions.push({ kind: 'peer', peerId: h.peerId, start: pos, end });
                peerCount++;
                perPeer.set(h.peerId, (perPeer.get(h.peerId) ?? 0) + 1);
                pos = end;
                continue;
            }
            if (heldByPeer(pos)) {
                waiting = true;
                pos = pieceEnd;
                continue;
            }
            if (!mine(pieceOf(pos))) {
                waiting = true;
                pos = pieceEnd;
                continue;
            }
            if (!input.upstreamOk || upstreamCount >= opts.maxUpstreamStreams) {
                pos = pieceEnd;
                continue;
            }
            // A reader waiting inside this piece gets the request at its byte; otherwise the
            // background request, if one may start now, begins here.
            const t = targets.find(x => x.pos >= pos && x.pos < pieceEnd);
            let start = t?.pos;
            let reader = t?.reader;
            if (start === undefined && background) {
                start = pos;
                reader = undefined;
                background = false;
            }
            if (start === undefined) {
                pos = pieceEnd;
                continue;
            }
            const limit = Math.min(b, start + opts.segmentBytes);
            let end = Math.min(limit, nextPieceStart(start));
            while (end < limit && mine(pieceOf(end)) && !heldByPeer(end))
                end = Math.min(limit, end + PIECE_SIZE);
            actions.push(reader === undefined ? { kind: 'upstream', start, end } : { kind: 'upstream', start, end, reader });
            upstreamCount++;
            pos = end;
        }
    }
    return { actions, waiting };
}
/**
 * The coalescing set: this agent, and every neighbour that is fetching the blob (not complete)
 * and whose holdings still grow (`progressing`); a neighbour that stalls loses its share.
 */
export function coalescingSet(self, holders, progressing) {
    const members = [{ id: self }];
    const fetchers = [];
    for (const h of holders) {
        if (!h.fetching || h.complete)
            continue;
        if (!progressing(h))
            continue;
        members.push({ id: h.peerId });
        fetchers.push(h);
    }
    return { members, fetchers };
}
/**
 * Where each of this agent's running upstream requests must stop so that no byte is fetched from
 * upstream twice: at the first byte ahead of it that a neighbour already holds (it comes from
 * that neighbour instead), or at the first piece that a fetching neighbour also claims and owns
 * (among `members`). Returns, by index into `claims`, the new ends that are shorter than the
 * current ones; a request already inside such a piece stops where it is. Both agents compute
 * the same owner, so exactly one of them keeps each contested piece.
 */
export function yieldContested(digest, claims, holders, fetchers, members) {
    const out = new Map();
    if (holders.length === 0)
        return out;
    const self = members[0]?.id ?? 'self';
    claims.forEach((c, i) => {
        if (c.source !== 'upstream' || c.received === true || c.end <= c.pos)
            return;
        let cut;
        const earlier = (at) => { if (cut === undefined || at < cut)
            cut = at; };
        for (const h of holders) {
            if (h.complete) {
                earlier(c.pos);
                break;
            }
            for (const [a, b] of h.ranges)
                if (a < c.end && b > c.pos) {
                    earlier(Math.max(a, c.pos));
                    break;
                }
        }
        if (members.length > 1) {
            for (const f of fetchers) {
                for (const [a, b] of f.claimed) {
                    const s = Math.max(a, c.pos);
                    const e = Math.min(b, c.end);
                    if (s >= e)
                        continue;
                    // The first piece in the overlap that is theirs (pieces that are ours we keep).
                    for (let p = pieceOf(s); p * PIECE_SIZE < e; p++) {
                        if (isMine(members, self, digest, p))
                            continue;
                        earlier(Math.max(c.pos, p * PIECE_SIZE));
                        break;
                    }
                }
            }
        }
        if (cut !== undefined && cut < c.end)
            out.set(i, cut);
    });
    return out;
}
//# sourceMappingURL=planner.js.map