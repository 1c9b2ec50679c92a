// The planner's rules, one table row each: what it starts given what is present, running,
// waiting, held and owned. Pure: no store, no timers, no peers.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { Holder } from '../../../src/routing/router.js'
import { ownerOf } from '../../../src/session/ownership.js'
import { coalescingSet, plan, yieldContested, type PlanAction, type PlanClaim, type PlanInput, type PlanReader } from '../../../src/session/planner.js'
import { PIECE_SIZE } from '../../../src/util/pieces.js'
import { RangeSet, type Ranges } from '../../../src/util/ranges.js'

const P = PIECE_SIZE
const D = 'sha256:' + 'c'.repeat(64)
const opts = { segmentBytes: 8 * P, maxUpstreamStreams: 4, maxPeerTransfers: 6, perPeerTransfers: 2 }

function holder (peerId: string, size: number, o: Partial<Holder> = {}): Holder {
  const complete = o.complete ?? (o.ranges === undefined && o.fetching !== true)
  return { peerId, size, complete, ranges: o.ranges ?? (complete ? [[0, size]] : []), fetching: o.fetching ?? false, claimed: o.claimed ?? [] }
}

function input (size: number, o: {
  present?: Ranges, claims?: PlanClaim[], readers?: PlanReader[], holders?: Holder[], busy?: string[],
  members?: string[], upstreamOk?: boolean, wholePieces?: boolean, probe?: boolean, opts?: Partial<typeof opts>
} = {}): PlanInput {
  const holders = o.holders ?? []
  const members = (o.members ?? ['self']).map(id => ({ id }))
  return {
    digest: D,
    size,
    present: new RangeSet(o.present ?? []),
    claims: o.claims ?? [],
    readers: o.readers ?? [{ pos: 0, end: size }],
    holders,
    busy: (p) => (o.busy ?? []).includes(p),
    members,
    fetchers: holders.filter(h => members.some(m => m.id === h.peerId)),
    upstreamOk: o.upstreamOk ?? true,
    ...(o.wholePieces !== undefined ? { wholePieces: o.wholePieces } : {}),
    ...(o.probe !== undefined ? { probe: o.probe } : {}),
    opts: { ...opts, ...o.opts }
  }
}

const upstream = (start: number, end: number, reader?: number): PlanAction => reader === undefined ? { kind: 'upstream', start, end } : { kind: 'upstream', start, end, reader }
const peer = (peerId: string, start: number, end: number): PlanAction => ({ kind: 'peer', peerId, start, end })

const cases: Array<{ name: string, in: PlanInput, actions: PlanAction[], waiting?: boolean }> = [
  {
    name: 'alone, cold: a closed segment for the reader and the background request after it',
    in: input(20 * P),
    actions: [upstream(0, 8 * P, 0), upstream(8 * P, 16 * P)]
  },
  {
    name: 'after a lead, alone but with neighbours (probe): one request, to the end of the piece',
    in: input(20 * P, { present: [[0, 256 * 1024]], probe: true }),
    actions: [upstream(256 * 1024, P, 0)]
  },
  {
    name: 'probe: while its request runs, nothing else goes upstream',
    in: input(20 * P, { present: [[0, 256 * 1024]], probe: true, claims: [{ pos: 300_000, end: P, source: 'upstream' }] }),
    actions: []
  },
  {
    name: 'a small blob is one request to its end',
    in: input(1000),
    actions: [upstream(0, 1000, 0)]
  },
  {
    name: 'a complete holder supplies the pieces, two at a time; the rest waits for it',
    in: input(3 * P + 5, { holders: [holder('A', 3 * P + 5)] }),
    actions: [peer('A', 0, P), peer('A', P, 2 * P)],
    waiting: true
  },
  {
    name: 'a complete holder first, then the least loaded',
    in: input(2 * P, { holders: [holder('part', 2 * P, { ranges: [[0, 2 * P]] }), holder('full', 2 * P)] }),
    actions: [peer('full', 0, P), peer('part', P, 2 * P)]
  },
  {
    name: 'a partial holder supplies what it has, upstream the rest',
    in: input(4 * P, { holders: [holder('A', 4 * P, { ranges: [[0, 2 * P]] })] }),
    actions: [peer('A', 0, P), peer('A', P, 2 * P), upstream(2 * P, 4 * P)]
  },
  {
    name: 'a partial holder that is still fetching supplies what it has, up to where it is',
    in: input(2 * P, { holders: [holder('A', 2 * P, { ranges: [[0, P + 100]], fetching: true, claimed: [[P + 100, 2 * P]] })], members: ['self', 'A'] }),
    actions: [peer('A', 0, P), peer('A', P, P + 100)],
    waiting: true
  },
  {
    name: 'with piece hashes known, a partial holder supplies only pieces it holds whole (the transfer fetches whole pieces); the rest waits for it',
    in: input(2 * P, { holders: [holder('A', 2 * P, { ranges: [[0, P + 100]], fetching: true, claimed: [[P + 100, 2 * P]] })], members: ['self', 'A'], wholePieces: true }),
    actions: [peer('A', 0, P)],
    waiting: true
  },
  {
    name: 'a busy holder is not asked; its bytes wait for it, nothing goes upstream',
    in: input(2 * P, { holders: [holder('A', 2 * P)], busy: ['A'] }),
    actions: [],
    waiting: true
  },
  {
    name: 'the total peer transfer limit holds',
    in: input(8 * P, { holders: [holder('A', 8 * P), holder('B', 8 * P), holder('C', 8 * P)], opts: { maxPeerTransfers: 3 } }),
    actions: [peer('A', 0, P), peer('B', P, 2 * P), peer('C', 2 * P, 3 * P)],
    waiting: true
  },
  {
    name: 'bytes a neighbour claimed from upstream wait for it',
    in: input(4 * P, { holders: [holder('B', 4 * P, { fetching: true, claimed: [[0, 4 * P]] })], members: ['self', 'B'] }),
    actions: [],
    waiting: true
  },
  {
    name: 'after an upstream failure nothing starts upstream, peers are still used',
    in: input(2 * P, { holders: [holder('A', 2 * P, { ranges: [[0, P]] })], upstreamOk: false }),
    actions: [peer('A', 0, P)]
  },
  {
    name: 'present bytes and running transfers are not fetched again',
    in: input(8 * P, { present: [[0, P]], claims: [{ pos: P, end: 8 * P, source: 'upstream' }], readers: [{ pos: P, end: 8 * P }] }),
    actions: []
  },
  {
    name: 'the next background request starts while the running one is finishing',
    in: input(20 * P, { present: [[0, 7 * P]], claims: [{ pos: 7 * P, end: 8 * P, source: 'upstream' }], readers: [{ pos: 7 * P, end: 20 * P }] }),
    actions: [upstream(8 * P, 16 * P)]
  },
  {
    name: 'a chunked reader far ahead gets its own request (containerd 2.1)',
    in: input(20 * P, { claims: [{ pos: 0, end: 8 * P, source: 'upstream' }], readers: [{ pos: 0, end: 20 * P }, { pos: 12 * P, end: 20 * P }] }),
    actions: [upstream(12 * P, 20 * P, 1)]
  },
  {
    name: 'maxUpstreamStreams caps the requests of one pass',
    in: input(40 * P, { readers: [{ pos: 0, end: 40 * P }, { pos: 10 * P, end: 40 * P }, { pos: 20 * P, end: 40 * P }], opts: { maxUpstreamStreams: 2 } }),
    actions: [upstream(0, 8 * P, 0), upstream(8 * P, 16 * P)]
  }
]

for (const c of cases) {
  test(`planner: ${c.name}`, () => {
    const p = plan(c.in)
    assert.deepEqual(p.actions, c.actions)
    assert.equal(p.waiting, c.waiting ?? false)
  })
}

test('planner: ownership divides the upstream work; pieces owned by a neighbour wait for it', () => {
  const size = 12 * P
  const members = ['self', 'B']
  const owner = (i: number): string => ownerOf(members.map(id => ({ id })), D, i)
  // One reader per piece, so every piece this agent owns gets a request in this pass.
  const readers = Array.from({ length: 12 }, (_, i) => ({ pos: i * P, end: size }))
  const p = plan(input(size, { holders: [holder('B', size, { fetching: true })], members, readers, opts: { maxUpstreamStreams: 32, segmentBytes: P } }))
  const started = new RangeSet()
  for (const a of p.actions) { assert.equal(a.kind, 'upstream'); started.add(a.start, a.end) }
  for (let i = 0; i < 12; i++) assert.equal(started.covers(i * P, (i + 1) * P), owner(i) === 'self', `piece ${i} is owned by ${owner(i)}`)
  assert.equal(p.waiting, true)
})

test('planner: a segment never runs into a piece a neighbour owns', () => {
  const size = 12 * P
  const members = ['self', 'B']
  const p = plan(input(size, { holders: [holder('B', size, { fetching: true })], members, opts: { maxUpstreamStreams: 32, segmentBytes: 12 * P } }))
  for (const a of p.actions) {
    for (let pos = a.start; pos < a.end; pos += P) assert.equal(ownerOf(members.map(id => ({ id })), D, Math.floor(pos / P)), 'self')
  }
})

test('planner: with other members, upstream requests are one piece long, and the next starts only near the end of the running one', () => {
  const size = 12 * P
  const members = ['self', 'B']
  const b = holder('B', size, { fetching: true })
  const mine = Array.from({ length: 12 }, (_, i) => i).filter(i => ownerOf(members.map(id => ({ id })), D, i) === 'self')
  assert.ok(mine.length >= 3, 'the test digest gives self a few pieces')
  const p = plan(input(size, { holders: [b], members, opts: { segmentBytes: 12 * P } }))
  assert.ok(p.actions.length > 0)
  for (const a of p.actions) assert.equal(a.end - a.start, P, `request [${a.start}, ${a.end}) is one piece`)
  // A running request with more than a quarter piece to go: no background request yet.
  const running: PlanClaim = { pos: mine[0]! * P + 1000, end: (mine[0]! + 1) * P, source: 'upstream' }
  const q = plan(input(size, { holders: [b], members, claims: [running], readers: [{ pos: running.pos, end: size }], opts: { segmentBytes: 12 * P } }))
  assert.deepEqual(q.actions, [])
  // Near its end the next owned piece starts.
  const late: PlanClaim = { ...running, pos: running.end - P / 8 }
  const r = plan(input(size, { holders: [b], members, claims: [late], readers: [{ pos: late.pos, end: size }], present: [[0, late.pos]], opts: { segmentBytes: 12 * P } }))
  assert.deepEqual(r.actions, [upstream(mine[1]! * P, (mine[1]! + 1) * P)])
  // Alone, the same blob goes in one segment.
  assert.deepEqual(plan(input(size, { opts: { segmentBytes: 12 * P } })).actions, [upstream(0, size, 0)])
})

test('coalescing set: fetching, progressing neighbours are members; complete or stalled ones are not', () => {
  const hs = [
    holder('fetching', 10, { fetching: true }),
    holder('stalled', 10, { fetching: true }),
    holder('done', 10),
    holder('idle', 10, { ranges: [[0, 5]] })
  ]
  const { members, fetchers } = coalescingSet('me', hs, h => h.peerId !== 'stalled')
  assert.deepEqual(members.map(m => m.id), ['me', 'fetching'])
  assert.deepEqual(fetchers.map(h => h.peerId), ['fetching'])
})

test('contested claims: two agents that both claimed a run keep only the pieces each owns, the earliest cut wins', () => {
  const size = 12 * P
  const ms = (self: string, other: string) => [{ id: self }, { id: other }]
  const owner = (i: number): string => ownerOf(ms('A', 'B'), D, i)
  // Both planned alone and claimed everything after a lead.
  const claimA: PlanClaim = { pos: P / 4, end: size, source: 'upstream' }
  const claimB: PlanClaim = { pos: P / 4, end: size, source: 'upstream' }
  const seenByA = holder('B', size, { fetching: true, ranges: [], claimed: [[claimB.pos, claimB.end]] })
  const seenByB = holder('A', size, { fetching: true, ranges: [], claimed: [[claimA.pos, claimA.end]] })
  const cutA = yieldContested(D, [claimA], [seenByA], [seenByA], ms('A', 'B')).get(0)
  const cutB = yieldContested(D, [claimB], [seenByB], [seenByB], ms('B', 'A')).get(0)
  const firstOf = (who: string): number => { let i = 0; while (owner(i) !== who) i++; return i }
  // Each stops at the first piece the other owns; exactly one of them keeps piece 0.
  assert.equal(cutA, Math.max(claimA.pos, firstOf('B') * P))
  assert.equal(cutB, Math.max(claimB.pos, firstOf('A') * P))
  assert.equal((cutA! > claimA.pos) !== (cutB! > claimB.pos), true, 'one keeps the piece it is in, the other stops')
})

test('contested claims: nothing changes without an overlap, for peer transfers, or for received requests', () => {
  const size = 12 * P
  const members = [{ id: 'A' }, { id: 'B' }]
  const b = holder('B', size, { fetching: true, ranges: [], claimed: [[6 * P, 8 * P]] })
  const claims: PlanClaim[] = [
    { pos: 0, end: 6 * P, source: 'upstream' },
    { pos: 6 * P, end: 8 * P, source: 'peer', peerId: 'C' },
    { pos: 6 * P, end: 8 * P, source: 'upstream', received: true }
  ]
  assert.equal(yieldContested(D, claims, [b], [b], members).size, 0)
  assert.equal(yieldContested(D, [{ pos: 0, end: size, source: 'upstream' }], [b], [], [{ id: 'A' }]).size, 0, 'not a member: its claims are not ours to yield to')
})

test('contested claims: a request stops short of bytes a neighbour already holds', () => {
  const size = 12 * P
  const partial = holder('B', size, { ranges: [[5 * P, 6 * P]] })
  const claims: PlanClaim[] = [{ pos: 2 * P + 10, end: size, source: 'upstream' }, { pos: 6 * P, end: 8 * P, source: 'upstream' }]
  const cuts = yieldContested(D, claims, [partial], [], [{ id: 'A' }])
  assert.equal(cuts.get(0), 5 * P, 'stops where B\'s bytes begin')
  assert.equal(cuts.has(1), false, 'nothing held ahead of it')
  assert.equal(yieldContested(D, [{ pos: 3 * P, end: size, source: 'upstream' }], [holder('C', size)], [], [{ id: 'A' }]).get(0), 3 * P, 'a complete holder: stop now, take it from C')
})
