import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { PeerRangeError } from '../../../src/errors.js'
import { silentLogger } from '../../../src/log.js'
import { createMetrics } from '../../../src/metrics/metrics.js'
import { PeerHealth } from '../../../src/p2p/peer-health.js'
import { verifiedRange } from '../../../src/p2p/verify.js'
import { PIECE_SIZE, type PeerHolding, type PeerSources, type PeerTransfers } from '../../../src/p2p/types.js'
import { MemoryOffice, MemoryRouter } from '../../../src/routing/memory.js'
import { SessionManager } from '../../../src/session/manager.js'
import { ownerOf } from '../../../src/session/ownership.js'
import { BlobStore } from '../../../src/store/blob-store.js'
import { fakeUpstream } from '../support/fake-upstream.js'
import { collect, pseudoRandom, sha256, tempDir } from '../support/fixtures.js'

const ctx = { registry: 'upstream.test', repository: 'app' }

/**
 * A fake neighbourhood at the PeerSources seam: a MemoryRouter filled from a table of holdings,
 * a real PeerHealth, and transfers that serve bytes from `data` (corrupted for some peers).
 */
function fakePeers (data: Buffer, holdings: PeerHolding[], opts: { corrupt?: Set<string>, hangs?: Map<string, number> } = {}) {
  const banned = new Map<string, string>()
  const served = new Map<string, number>()
  const running = { now: 0, max: 0 }
  const health = new PeerHealth()
  health.onChange((ev) => { if (ev.type === 'banned') banned.set(ev.peerId, 'banned') })
  const office = new MemoryOffice()
  const digest = sha256(data)
  const publish = (): void => {
    for (const h of holdings) office.set(h.peerId, { digest, size: h.size, complete: h.complete, ranges: h.ranges, fetching: h.fetching, claimed: h.claimed })
  }
  publish()
  const router = new MemoryRouter('self', office, (peer) => health.isBanned(peer))
  const pieces = (): Uint8Array[] => {
    const out: Uint8Array[] = []
    for (let p = 0; p < data.length; p += PIECE_SIZE) out.push(createHash('sha256').update(data.subarray(p, p + PIECE_SIZE)).digest())
    return out
  }
  async function * raw (peerId: string, start: number, end: number, signal?: AbortSignal): AsyncGenerator<Uint8Array> {
    const h = holdings.find(x => x.peerId === peerId)
    if (h === undefined || health.isBanned(peerId)) throw new PeerRangeError('not connected')
    // A holder that falls silent: this request sends nothing (the session's watchdog ends it).
    const hangs = opts.hangs?.get(peerId) ?? 0
    if (hangs > 0) {
      opts.hangs!.set(peerId, hangs - 1)
      await new Promise((_resolve, reject) => { signal?.addEventListener('abort', () => { reject(signal.reason) }, { once: true }) })
    }
    for (let p = start; p < end; p += 128 * 1024) {
      await new Promise(resolve => setImmediate(resolve))
      let b = data.subarray(p, Math.min(end, p + 128 * 1024))
      if (opts.corrupt?.has(peerId) === true) { b = Buffer.from(b); b[0] ^= 0xff }
      served.set(peerId, (served.get(peerId) ?? 0) + b.length)
      yield b
    }
  }
  /** Transfers running at once (each fetchRange until it ends). */
  async function * counted (src: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
    running.now++
    running.max = Math.max(running.max, running.now)
    try { yield * src } finally { running.now-- }
  }
  // As the real transports do: with piece hashes, whole pieces, each checked before use.
  const transfers: PeerTransfers = {
    fetchRange: (peerId, _digest, start, end, signal, check) => counted(check === undefined ? raw(peerId, start, end, signal) : verifiedRange((s, e) => raw(peerId, s, e, signal), start, end, check)),
    fetchPieceHashes: async (peerId) => holdings.find(h => h.peerId === peerId)?.complete === true ? pieces() : undefined
  }
  const net: PeerSources = { peerId: 'self', router, transfers, health, neighbours: () => holdings.length }
  return { net, banned, served, running, changed: (_d: string) => { publish() } }
}

/** A neighbour that holds the whole blob. */
function complete (peerId: string, data: Buffer): PeerHolding {
  return { peerId, size: data.length, complete: true, ranges: [[0, data.length]], fetching: false, claimed: [] }
}

/** Read the whole blob through the manager and check its digest. */
async function readVerified (mgr: SessionManager, digest: string): Promise<void> {
  const r = await mgr.read(digest, ctx, 0, undefined)
  assert.equal(sha256(await collect(r.body)), digest)
}

async function setup (t: any, data: Buffer, peers: PeerSources, session = {}) {
  const { dir, cleanup } = await tempDir()
  const metrics = createMetrics({ defaultMetrics: false })
  const store = await BlobStore.open({ dataDir: dir, logger: silentLogger(), metrics })
  const { up, stats } = fakeUpstream(data, { chunk: 256 * 1024 })
  const upstream = { fetched: stats.fetched, bytes: () => stats.bytes }
  const mgr = new SessionManager({ store, upstream: up, metrics, logger: silentLogger(), peers, session })
  t.after(async () => { await mgr.stop(); await store.close(); await cleanup() })
  return { store, mgr, upstream, metrics }
}

test('a blob a neighbour holds complete comes from the neighbour, not upstream', async (t) => {
  const data = pseudoRandom(3 * PIECE_SIZE + 1000, 21)
  const digest = sha256(data)
  const peers = fakePeers(data, [{ peerId: 'peerA', size: data.length, complete: true, ranges: [[0, data.length]], fetching: false, claimed: [] }])
  const { mgr, upstream } = await setup(t, data, peers.net)
  const r = await mgr.read(digest, ctx, 0, undefined)
  assert.equal(sha256(await collect(r.body)), digest)
  assert.equal(upstream.bytes(), 0)
  assert.equal(peers.served.get('peerA'), data.length)
})

test('partial holders supply what they have; upstream only the rest', async (t) => {
  const data = pseudoRandom(4 * PIECE_SIZE, 22)
  const digest = sha256(data)
  const peers = fakePeers(data, [
    { peerId: 'peerA', size: data.length, complete: false, ranges: [[0, 2 * PIECE_SIZE]], fetching: false, claimed: [] },
    { peerId: 'peerB', size: data.length, complete: false, ranges: [[3 * PIECE_SIZE, 4 * PIECE_SIZE]], fetching: false, claimed: [] }
  ])
  const { mgr, upstream } = await setup(t, data, peers.net)
  const r = await mgr.read(digest, ctx, 0, undefined)
  assert.equal(sha256(await collect(r.body)), digest)
  assert.equal(upstream.bytes(), PIECE_SIZE, 'only the piece no neighbour holds came from upstream')
  for (const [s, e] of upstream.fetched) assert.ok(s >= 2 * PIECE_SIZE && e <= 3 * PIECE_SIZE)
})

test('a neighbour that sends a bad piece is banned and the piece comes from elsewhere', async (t) => {
  const data = pseudoRandom(2 * PIECE_SIZE + 77, 23)
  const digest = sha256(data)
  const peers = fakePeers(data, [
    { peerId: 'liar', size: data.length, complete: true, ranges: [[0, data.length]], fetching: false, claimed: [] },
    { peerId: 'honest', size: data.length, complete: true, ranges: [[0, data.length]], fetching: false, claimed: [] }
  ], { corrupt: new Set(['liar']) })
  const { mgr, store, metrics } = await setup(t, data, peers.net)
  const r = await mgr.read(digest, ctx, 0, undefined)
  assert.equal(sha256(await collect(r.body)), digest)
  assert.ok(peers.banned.has('liar'), 'liar banned')
  assert.ok(!peers.banned.has('honest'))
  assert.equal((await store.stat(digest))?.state, 'complete')
  const vf = (await metrics.verificationFailures.get()).values.find(v => v.labels.source === 'peer')
  assert.ok((vf?.value ?? 0) >= 1)
})

test('coalescing: with another agent fetching the same blob, this agent fetches only its own pieces upstream', async (t) => {
  const pieces = 12
  const data = pseudoRandom(pieces * PIECE_SIZE, 24)
  const digest = sha256(data)
  // peerB is fetching the blob too: it "receives" its own pieces a little later, which we
  // simulate by growing its advertised ranges piece by piece.
  const holding: PeerHolding = { peerId: 'peerB', size: data.length, complete: false, ranges: [], fetching: true, claimed: [] }
  const peers = fakePeers(data, [holding])
  const members = [{ id: 'self' }, { id: 'peerB' }]
  const theirs = Array.from({ length: pieces }, (_, i) => i).filter(i => ownerOf(members, digest, i) === 'peerB')
  assert.ok(theirs.length > 0 && theirs.length < pieces, 'the test needs pieces on both sides')
  const { mgr, upstream } = await setup(t, data, peers.net)
  const r = await mgr.read(digest, ctx, 0, undefined)
  const reading = collect(r.body)
  for (const i of theirs) {
    await sleep(20)
    holding.ranges = [...holding.ranges, [i * PIECE_SIZE, (i + 1) * PIECE_SIZE]].sort((a, b) => a[0] - b[0]) as Array<[number, number]>
    peers.changed(digest)
  }
  assert.equal(sha256(await reading), digest)
  assert.equal(upstream.bytes(), (pieces - theirs.length) * PIECE_SIZE, 'upstream carried only our pieces')
  assert.equal(peers.served.get('peerB'), theirs.length * PIECE_SIZE)
})

test('coalescing: a fetching neighbour that makes no progress loses its share', async (t) => {
  const data = pseudoRandom(6 * PIECE_SIZE, 25)
  const digest = sha256(data)
  const peers = fakePeers(data, [{ peerId: 'stuck', size: data.length, complete: false, ranges: [], fetching: true, claimed: [] }])
  const { mgr, upstream } = await setup(t, data, peers.net, { ownerStallMs: 300, peerStallMs: 300 })
  const r = await mgr.read(digest, ctx, 0, undefined)
  assert.equal(sha256(await collect(r.body)), digest)
  assert.equal(upstream.bytes(), data.length)
})

test('peer transfers of the whole agent are bounded (memory): never more than maxPeerTransfersTotal at once', async (t) => {
  const data = pseudoRandom(8 * PIECE_SIZE, 33)
  const digest = sha256(data)
  const peers = fakePeers(data, ['A', 'B', 'C'].map(p => complete(p, data)))
  const { mgr, upstream } = await setup(t, data, peers.net, { maxPeerTransfers: 6, perPeerTransfers: 2, maxPeerTransfersTotal: 2 })
  await readVerified(mgr, digest)
  assert.equal(upstream.bytes(), 0)
  assert.equal(peers.running.max, 2)
})

test('a complete holder that falls silent once is asked again: the blob still comes from it, not upstream', async (t) => {
  const data = pseudoRandom(2 * PIECE_SIZE, 31)
  const digest = sha256(data)
  const peers = fakePeers(data, [complete('slow', data)], { hangs: new Map([['slow', 1]]) })
  const { mgr, upstream } = await setup(t, data, peers.net, { peerStallMs: 300 })
  await readVerified(mgr, digest)
  assert.equal(upstream.bytes(), 0)
  assert.equal(peers.served.get('slow'), data.length)
})

test('a complete holder that stays silent is given up after its second stall: upstream supplies the blob', async (t) => {
  const data = pseudoRandom(2 * PIECE_SIZE, 32)
  const digest = sha256(data)
  const peers = fakePeers(data, [complete('hung', data)], { hangs: new Map([['hung', Infinity]]) })
  const { mgr, upstream } = await setup(t, data, peers.net, { peerStallMs: 300 })
  const t0 = Date.now()
  await readVerified(mgr, digest)
  assert.equal(upstream.bytes(), data.length)
  assert.equal(peers.served.get('hung') ?? 0, 0)
  // Two stall periods (and a retry), not more: a dead holder costs little.
  assert.ok(Date.now() - t0 < 5000, `took ${Date.now() - t0} ms`)
})

test('coalescing: bytes a neighbour already claimed from upstream are taken from it, never fetched again', async (t) => {
  const pieces = 6
  const data = pseudoRandom(pieces * PIECE_SIZE, 26)
  const digest = sha256(data)
  // peerB started alone a moment ago and requested the whole blob from upstream.
  const holding: PeerHolding = { peerId: 'peerB', size: data.length, complete: false, ranges: [], fetching: true, claimed: [[0, data.length]] }
  const peers = fakePeers(data, [holding])
  const { mgr, upstream } = await setup(t, data, peers.net)
  const r = await mgr.read(digest, ctx, 0, undefined)
  const reading = collect(r.body)
  for (let i = 1; i <= pieces; i++) {
    await sleep(20)
    holding.ranges = [[0, i * PIECE_SIZE]]
    holding.claimed = i < pieces ? [[i * PIECE_SIZE, data.length]] : []
    peers.changed(digest)
  }
  assert.equal(sha256(await reading), digest)
  assert.equal(upstream.bytes(), 0, 'nothing fetched upstream: the neighbour had claimed it all')
})
