// The four ways SessionManager opens a session, each seen from outside: which upstream calls it
// makes (HEAD, GET from where), what comes from neighbours, and that the bytes verify.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { silentLogger } from '../../../src/log.js'
import { createMetrics } from '../../../src/metrics/metrics.js'
import { PeerHealth } from '../../../src/p2p/peer-health.js'
import type { PeerSources } from '../../../src/p2p/types.js'
import { DeniedError, UnauthorizedError } from '../../../src/errors.js'
import { MemoryOffice, MemoryRouter } from '../../../src/routing/memory.js'
import { SessionManager } from '../../../src/session/manager.js'
import { BlobStore } from '../../../src/store/blob-store.js'
import { DEFAULTS } from '../../../src/config/defaults.js'
import { PIECE_SIZE } from '../../../src/util/pieces.js'
import { fakeUpstream } from '../support/fake-upstream.js'
import { collect, pseudoRandom, sha256, tempDir } from '../support/fixtures.js'

const ctx = { registry: 'upstream.test', repository: 'app' }

/** An office of one neighbour `peerA`, which holds `holds` of `data` and serves it. */
function office (data: Buffer, holds: { complete: boolean, ranges: Array<[number, number]>, fetching?: boolean }): { peers: PeerSources, served: () => number, office: MemoryOffice } {
  const o = new MemoryOffice()
  let served = 0
  o.set('peerA', { digest: sha256(data), size: data.length, complete: holds.complete, ranges: holds.ranges, fetching: holds.fetching ?? false })
  const peers: PeerSources = {
    peerId: 'self',
    router: new MemoryRouter('self', o),
    health: new PeerHealth(),
    neighbours: () => 1,
    transfers: {
      async * fetchRange (_p, _d, start, end) { served += end - start; yield data.subarray(start, end) },
      fetchPieceHashes: async () => undefined
    }
  }
  return { peers, served: () => served, office: o }
}

async function setup (t: any, data: Buffer, peers?: PeerSources, dir?: string) {
  const tmp = dir === undefined ? await tempDir() : { dir, cleanup: async () => {} }
  const metrics = createMetrics({ defaultMetrics: false })
  const store = await BlobStore.open({ dataDir: tmp.dir, logger: silentLogger(), metrics })
  const { up, stats } = fakeUpstream(data)
  let heads = 0
  const statBlob = up.statBlob
  up.statBlob = async (...a) => { heads++; return await statBlob(...a) }
  const mgr = new SessionManager({ store, upstream: up, metrics, logger: silentLogger(), peers })
  t.after(async () => { await mgr.stop(); await store.close(); await tmp.cleanup() })
  return { store, mgr, stats, heads: () => heads, dir: tmp.dir }
}

test('open 1, alone: one GET from byte 0 tells the size and becomes the first transfer (no HEAD)', async (t) => {
  const data = pseudoRandom(2 * PIECE_SIZE + 5, 601)
  const { mgr, stats, heads } = await setup(t, data)
  const r = await mgr.read(sha256(data), ctx, 0, undefined)
  assert.equal(sha256(await collect(r.body)), sha256(data))
  assert.equal(heads(), 0)
  assert.equal(stats.calls[0]?.start, 0)
  assert.equal(stats.bytes, data.length)
})

test('open 2, known to the store: a partial blob from before a restart resumes at its first missing byte', async (t) => {
  const data = pseudoRandom(3 * PIECE_SIZE, 602)
  const digest = sha256(data)
  const { dir, cleanup } = await tempDir()
  t.after(cleanup)
  {
    const store = await BlobStore.open({ dataDir: dir, logger: silentLogger(), metrics: createMetrics({ defaultMetrics: false }) })
    const e = (await store.acquire(digest, { size: data.length }))!
    await e.write(0, data.subarray(0, PIECE_SIZE))
    store.release(e)
    await store.close() // checkpoints what was written
  }
  const { mgr, stats, heads } = await setup(t, data, undefined, dir)
  const r = await mgr.read(digest, ctx, 0, undefined)
  assert.equal(sha256(await collect(r.body)), digest)
  assert.equal(heads(), 0)
  assert.ok(stats.calls.every(c => c.start >= PIECE_SIZE), `upstream asked from ${stats.calls.map(c => c.start).join(',')}`)
  assert.equal(stats.bytes, data.length - PIECE_SIZE)
})

test('open 3, a neighbour holds it: the size comes from the neighbour, no upstream request at all', async (t) => {
  const data = pseudoRandom(PIECE_SIZE + 999, 603)
  const o = office(data, { complete: true, ranges: [[0, data.length]] })
  const { mgr, stats, heads } = await setup(t, data, o.peers)
  const r = await mgr.read(sha256(data), ctx, 0, undefined)
  assert.equal(sha256(await collect(r.body)), sha256(data))
  assert.equal(heads(), 0)
  assert.equal(stats.calls.length, 0)
  assert.equal(o.served(), data.length)
})

test('open 4, cold with neighbours connected: no HEAD, no wait; a short lead request, then the rest', async (t) => {
  const data = pseudoRandom(3 * PIECE_SIZE, 604)
  const o = office(data, { complete: false, ranges: [] })
  o.office.leave('peerA') // connected, holds nothing of this blob
  const { mgr, stats, heads } = await setup(t, data, o.peers)
  const r = await mgr.read(sha256(data), ctx, 0, undefined)
  assert.equal(sha256(await collect(r.body)), sha256(data))
  assert.equal(heads(), 0)
  assert.deepEqual(stats.calls[0], { start: 0, end: DEFAULTS.fetch.leadBytes }, 'the lead')
  assert.ok(stats.calls.slice(1).every(c => c.start >= DEFAULTS.fetch.leadBytes), 'the rest after it')
  assert.equal(stats.bytes, data.length)
})

test('a size known from a manifest: announced before upstream answers; a small blob is one request', async (t) => {
  const data = pseudoRandom(700_000, 606)
  const digest = sha256(data)
  const o = office(data, { complete: false, ranges: [] })
  o.office.leave('peerA')
  const { mgr, stats } = await setup(t, data, o.peers)
  mgr.hintSizes([{ digest, size: data.length }])
  const r = await mgr.read(digest, ctx, 0, undefined)
  assert.ok(mgr.isFetching(digest), 'fetching is announced at once')
  assert.equal(sha256(await collect(r.body)), digest)
  assert.deepEqual(stats.calls, [{ start: 0, end: undefined }])
})

test('a reader that keeps up gets the bytes from memory as they arrive, not from the file', async (t) => {
  const data = pseudoRandom(8 * PIECE_SIZE, 607)
  const digest = sha256(data)
  const { mgr, store } = await setup(t, data)
  const r = await mgr.read(digest, ctx, 0, undefined)
  const e = (await store.acquire(digest))!
  let fromFile = 0
  const read = e.read.bind(e)
  e.read = async function * (start, end, chunk) { for await (const b of read(start, end, chunk)) { fromFile += b.length; yield b } }
  assert.equal(sha256(await collect(r.body)), digest)
  store.release(e)
  assert.ok(fromFile < data.length / 4, `${fromFile} of ${data.length} bytes were read back from the file`)
})

test('a blob of a registry that may not be shared never goes to the office', async (t) => {
  const data = pseudoRandom(50_000, 605)
  const o = office(data, { complete: true, ranges: [[0, data.length]] })
  const { dir, cleanup } = await tempDir()
  t.after(cleanup)
  const metrics = createMetrics({ defaultMetrics: false })
  const store = await BlobStore.open({ dataDir: dir, logger: silentLogger(), metrics })
  const { up, stats } = fakeUpstream(data)
  const mgr = new SessionManager({ store, upstream: up, metrics, logger: silentLogger(), peers: o.peers, sharing: { registry: () => false, blob: () => false } })
  t.after(async () => { await mgr.stop(); await store.close() })
  const r = await mgr.read(sha256(data), ctx, 0, undefined)
  assert.equal(sha256(await collect(r.body)), sha256(data))
  assert.equal(o.served(), 0)
  assert.equal(stats.bytes, data.length)
})

/**
 * An agent with credentials for `ctx.registry` (shareable, so its blobs may come from peers) in an
 * office where peerA holds the blob complete. `head` answers the HEAD of our own credentials;
 * `events` records the HEAD and every peer transfer in order.
 */
async function credentialedOffice (t: any, data: Buffer, head: () => Promise<{ size: number }>, opts: { partial?: number, holds?: boolean } = {}) {
  const o = office(data, { complete: true, ranges: [[0, data.length]] })
  if (opts.holds === false) o.office.leave('peerA') // connected, holds nothing of this blob
  const partial = opts.partial
  const events: string[] = []
  const fetchRange = o.peers.transfers.fetchRange
  o.peers.transfers.fetchRange = (...a) => { events.push(`peer ${a[2]}-${a[3]}`); return fetchRange(...a) }
  const { dir, cleanup } = await tempDir()
  t.after(cleanup)
  const metrics = createMetrics({ defaultMetrics: false })
  const store = await BlobStore.open({ dataDir: dir, logger: silentLogger(), metrics })
  if (partial !== undefined) {
    const e = (await store.acquire(sha256(data), { size: data.length, origin: ctx, credentialed: true }))!
    await e.write(0, data.subarray(0, partial))
    store.release(e)
  }
  const { up, stats } = fakeUpstream(data)
  up.isCredentialed = (name) => name === ctx.registry
  up.statBlob = async (registry, repository, digest) => { events.push(`head ${registry}/${repository}@${digest}`); return await head() }
  const mgr = new SessionManager({ store, upstream: up, metrics, logger: silentLogger(), peers: o.peers })
  t.after(async () => { await mgr.stop(); await store.close() })
  return { mgr, stats, events, served: o.served }
}

test('a credentialed blob is taken from a neighbour only after our own credentials authorised it (HEAD)', async (t) => {
  const data = pseudoRandom(PIECE_SIZE + 4321, 608)
  const digest = sha256(data)
  const { mgr, stats, events, served } = await credentialedOffice(t, data, async () => ({ size: data.length }))
  const r = await mgr.read(digest, ctx, 0, undefined)
  assert.equal(sha256(await collect(r.body)), digest)
  assert.equal(events[0], `head ${ctx.registry}/${ctx.repository}@${digest}`, 'the HEAD came first')
  assert.ok(events.slice(1).every(e => e.startsWith('peer ')) && events.length > 1, events.join(', '))
  assert.equal(served(), data.length, 'the bytes came from the neighbour')
  assert.equal(stats.calls.length, 0, 'no upstream GET')
})

test('a 401 or 403 on that HEAD: the client gets the error and no byte comes from a neighbour', async (t) => {
  for (const err of [new UnauthorizedError('registry refused the configured credentials (HTTP 401)'), new DeniedError('access denied (HTTP 403)')]) {
    const data = pseudoRandom(50_000, err.code === 'UNAUTHORIZED' ? 609 : 610)
    const { mgr, stats, events, served } = await credentialedOffice(t, data, async () => { throw err })
    await assert.rejects(mgr.read(sha256(data), ctx, 0, undefined), { code: err.code })
    assert.equal(served(), 0)
    assert.equal(stats.calls.length, 0)
    assert.deepEqual(events.filter(e => e.startsWith('peer')), [])
  }
})

test('a partial credentialed blob from before a restart asks upstream before taking the rest from a neighbour', async (t) => {
  const data = pseudoRandom(3 * PIECE_SIZE, 611)
  const denied = await credentialedOffice(t, data, async () => { throw new DeniedError('denied (HTTP 403)') }, { partial: PIECE_SIZE })
  await assert.rejects(denied.mgr.read(sha256(data), ctx, 0, undefined), { code: 'DENIED' })
  assert.equal(denied.served(), 0)
  const allowed = await credentialedOffice(t, data, async () => ({ size: data.length }), { partial: PIECE_SIZE })
  const r = await allowed.mgr.read(sha256(data), ctx, 0, undefined)
  assert.equal(sha256(await collect(r.body)), sha256(data))
  assert.match(allowed.events[0] ?? '', /^head /)
  assert.equal(allowed.served() + allowed.stats.bytes, 2 * PIECE_SIZE, 'only the missing bytes were fetched')
})

test('a cold credentialed blob no neighbour holds: the first upstream GET is the authorisation (no HEAD)', async (t) => {
  const data = pseudoRandom(2 * PIECE_SIZE, 612)
  const digest = sha256(data)
  const { mgr, stats, events } = await credentialedOffice(t, data, async () => ({ size: data.length }), { holds: false })
  mgr.hintSizes([{ digest, size: data.length }]) // a known size alone does not authorise: no early announce
  const r = await mgr.read(digest, ctx, 0, undefined)
  assert.equal(sha256(await collect(r.body)), digest)
  assert.deepEqual(events, [])
  assert.deepEqual(stats.calls[0], { start: 0, end: DEFAULTS.fetch.leadBytes }, 'the lead GET comes first')
  assert.equal(stats.bytes, data.length)
})

test('a manifest served: the office is asked at once for the blobs it names that the store lacks, not for those it holds', async (t) => {
  const data = pseudoRandom(300_000, 611)
  const held = pseudoRandom(200_000, 612)
  const o = office(data, { complete: true, ranges: [[0, data.length]] })
  const asked: string[] = []
  const lookup = o.peers.router.lookup.bind(o.peers.router)
  o.peers.router.lookup = async (d, opts) => { asked.push(d); return await lookup(d, opts) }
  const { mgr, store } = await setup(t, data, o.peers)
  await store.putSmall(sha256(held), held, { origin: ctx, credentialed: false })
  mgr.hintSizes([{ digest: sha256(data), size: data.length }, { digest: sha256(held), size: held.length }], ctx.registry)
  await new Promise(resolve => setTimeout(resolve, 50))
  assert.deepEqual(asked, [sha256(data)])
})
