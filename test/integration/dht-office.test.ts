// The routing layer of an office of 100 agents, in one process: 100 real libp2p nodes on
// 127.0.0.1 (TCP, noise, yamux, kad-dht), every one given the same two bootstrap addresses and
// no mesh (maxMeshPeers 0), so everything an agent learns of another's blobs comes through the
// DHT. Lookups from anywhere find holders anywhere; agents leave and join (churn) without
// lookups failing; the records of an agent that left expire and are no longer served.

import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { random, startNode, cleanupDirs, within, type TestNode } from '../unit/p2p/fixtures.js'

const N = 100
const TTL_MS = 6_000
const REPROVIDE_MS = 2_000

describe(`an office of ${N} agents on the DHT`, { timeout: 300_000 }, () => {
  const nodes: TestNode[] = []
  const stopped = new Set<TestNode>()
  const opts = { maxMeshPeers: 0, dhtRecordTtlMs: TTL_MS, dhtReprovideMs: REPROVIDE_MS, dataPlane: false }

  const start = async (boot: string[]): Promise<TestNode> => {
    const n = await startNode({ ...opts, peers: boot })
    nodes.push(n)
    return n
  }
  const live = (): TestNode[] => nodes.filter(n => !stopped.has(n))
  const pick = (from: TestNode[], k: number, seed: number): TestNode[] => {
    const out: TestNode[] = []
    for (let i = 0; out.length < k && i < from.length * 4; i++) {
      const n = from[(seed * 7919 + i * 104729) % from.length]!
      if (!out.includes(n)) out.push(n)
    }
    return out
  }
  /** Look up `digest` from `n` until `holder` is found (bounded); the time it took, or -1. */
  const find = async (n: TestNode, digest: string, holder: TestNode, tries = 20): Promise<number> => {
    const t0 = Date.now()
    for (let i = 0; i < tries; i++) {
      const hs = await n.net.router.lookup(digest)
      if (hs.some(h => h.peerId === holder.net.peerId)) return Date.now() - t0
      await new Promise(resolve => setTimeout(resolve, 200))
    }
    return -1
  }
  const pct = (xs: number[], p: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))]!

  before(async () => {
    const b1 = await startNode(opts)
    nodes.push(b1)
    const b2 = await start([b1.addr])
    const boot = [b1.addr, b2.addr]
    // Join in waves, as an office's workstations come up in the morning.
    for (let i = 2; i < N; i += 14) {
      await Promise.all(Array.from({ length: Math.min(14, N - i) }, async () => await start(boot)))
    }
    assert.equal(nodes.length, N)
  })

  after(async () => {
    await Promise.allSettled(live().map(async n => await within(n.net.stop(), 15_000, 'stop')))
    cleanupDirs()
  })

  it('lookups from any agent find holders on any other, with their ranges', async (t) => {
    const holders = pick(nodes, 20, 1)
    const blobs = holders.map((h, i) => ({ holder: h, digest: h.local.add(random(5000 + i), i % 2 === 0 ? undefined : [[0, 2000]]) }))
    const times: number[] = []
    let missed = 0
    await Promise.all(blobs.map(async ({ holder, digest }, i) => {
      for (const asker of pick(nodes.filter(n => n !== holder), 3, i + 11)) {
        const ms = await find(asker, digest, holder)
        if (ms < 0) missed++
        else times.push(ms)
        const h = asker.net.router.holders(digest).find(x => x.peerId === holder.net.peerId)
        if (h !== undefined && i % 2 === 1) assert.deepEqual(h.ranges, [[0, 2000]], 'a partial holder is found with its ranges')
      }
    }))
    t.diagnostic(`60 lookups across ${N} agents: found ${times.length}, missed ${missed}; time to find p50 ${pct(times, 0.5)} ms, p95 ${pct(times, 0.95)} ms`)
    assert.equal(missed, 0, 'every holder found')
  })

  it('churn: 30 agents leave and 10 join; the remaining holders are still found, also by newcomers', async (t) => {
    const keep = pick(nodes.slice(2), 10, 5)
    const blobs = keep.map((h, i) => ({ holder: h, digest: h.local.add(random(7000 + i)) }))
    // Everyone's records are out before the churn.
    for (const { holder, digest } of blobs) assert.ok(await find(pick(nodes.filter(n => n !== holder), 1, 3)[0]!, digest, holder) >= 0)
    const leaving = pick(nodes.slice(2).filter(n => !keep.includes(n)), 30, 9)
    await Promise.all(leaving.map(async n => { stopped.add(n); await within(n.net.stop(), 15_000, 'stop') }))
    const boot = [nodes[0]!.addr, nodes[1]!.addr]
    const joined = await Promise.all(Array.from({ length: 10 }, async () => await start(boot)))
    const times: number[] = []
    let missed = 0
    await Promise.all(blobs.map(async ({ holder, digest }, i) => {
      for (const asker of [joined[i]!, ...pick(live().filter(n => n !== holder && !joined.includes(n)), 2, i + 17)]) {
        const ms = await find(asker, digest, holder)
        if (ms < 0) missed++
        else times.push(ms)
      }
    }))
    t.diagnostic(`after churn (${live().length} agents): 30 lookups, found ${times.length}, missed ${missed}; p50 ${pct(times, 0.5)} ms, p95 ${pct(times, 0.95)} ms`)
    assert.equal(missed, 0, 'every remaining holder found')
  })

  it('the records of an agent that left expire; those of an agent that stays are republished', async (t) => {
    const [gone, stays, asker] = pick(live().slice(2), 3, 23) as [TestNode, TestNode, TestNode]
    const dGone = gone.local.add(random(4000))
    const dStays = stays.local.add(random(4001))
    assert.ok(await find(asker, dGone, gone) >= 0, 'found while it is there')
    assert.ok(await find(asker, dStays, stays) >= 0)
    stopped.add(gone)
    await gone.net.stop()
    assert.ok((await asker.net.dht!.providerRecords(dGone, 3000)).includes(gone.net.peerId), 'its record outlives it for a while')
    // A lookup meanwhile costs at most the bounded dial, and names no holder.
    const t0 = Date.now()
    assert.deepEqual((await asker.net.router.lookup(dGone)).map(h => h.peerId), [])
    const lookupMs = Date.now() - t0
    // Past the record lifetime (plus one cleanup round): no agent serves the record any more.
    await new Promise(resolve => setTimeout(resolve, TTL_MS + REPROVIDE_MS))
    let records = await asker.net.dht!.providerRecords(dGone, 3000)
    for (let i = 0; i < 10 && records.includes(gone.net.peerId); i++) {
      await new Promise(resolve => setTimeout(resolve, 1000))
      records = await asker.net.dht!.providerRecords(dGone, 3000)
    }
    const staysRecords = await asker.net.dht!.providerRecords(dStays, 3000)
    t.diagnostic(`lookup with the departed provider's record ${lookupMs} ms; after ${TTL_MS} ms its record is served by nobody: ${!records.includes(gone.net.peerId)}; the staying agent's record republished: ${staysRecords.includes(stays.net.peerId)}`)
    assert.ok(!records.includes(gone.net.peerId), 'the departed agent\'s record expired')
    assert.ok(staysRecords.includes(stays.net.peerId), 'the staying agent\'s record lives on (republished)')
  })
})
