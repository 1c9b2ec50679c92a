// The routing layer of an office of 100 agents, in one process: 100 real libp2p nodes on
// 127.0.0.1 (TCP, noise, yamux, kad-dht), every one given the same two bootstrap addresses and
// no mesh (maxMeshPeers 0), so everything an agent learns of another's blobs comes through the
// DHT. Lookups from anywhere find holders anywhere; agents leave and join (churn) without
// lookups failing; the records of an agent that left expire and are no longer served.
//
// One process runs all 100 agents on one thread (a real office has a machine per agent), so
// the lookups here run one after another and the timings printed are upper bounds.

import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { random, startNode, cleanupDirs, within, type TestNode } from '../unit/p2p/fixtures.js'
import type { PeerNetworkInit } from '../../src/p2p/network.js'

const N = 100

/**
 * One thread serves all 100 agents, so an answer that takes an agent on its own machine a few
 * milliseconds takes seconds here while others query at the same time (lookups of 0.6–2.4 s
 * measured): the DHT's lookup and per-peer bounds are scaled up for this process, or lookups
 * end before they reach the record, and peers that only answered late are dropped from routing
 * tables as dead.
 */
const SHARED_THREAD = { lookupTimeoutMs: 5_000, dialTimeoutMs: 3_000 }

/** An office of `n` agents on the DHT, joining in waves, as workstations come up in the morning. */
async function office (n: number, opts: Omit<Partial<PeerNetworkInit>, 'local'>, nodes: TestNode[]): Promise<string[]> {
  const b1 = await startNode(opts)
  nodes.push(b1)
  nodes.push(await startNode({ ...opts, peers: [b1.addr] }))
  const boot = [b1.addr, nodes[1]!.addr]
  for (let i = 2; i < n; i += 10) {
    nodes.push(...await Promise.all(Array.from({ length: Math.min(10, n - i) }, async () => await startNode({ ...opts, peers: boot }))))
  }
  // Until every agent's routing table holds a few others (bounded).
  await settle(() => Math.min(...nodes.map(x => x.net.dht!.knownPeers())) >= 2, 60_000)
  return boot
}

async function settle (cond: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms
  while (!cond()) {
    if (Date.now() > deadline) return false
    await new Promise(resolve => setTimeout(resolve, 200))
  }
  return true
}

/**
 * Look up `digest` from `asker`, at most `tries` times; the time until `holder` was found, or -1.
 * An agent without `--peer` does not wait for the DHT (what its query finds arrives a moment
 * later, as a session would see it): so after each lookup, watch its holders for a while.
 */
async function find (asker: TestNode, digest: string, holder: TestNode, tries = 3): Promise<number> {
  const t0 = Date.now()
  const has = (hs: Array<{ peerId: string }>): boolean => hs.some(h => h.peerId === holder.net.peerId)
  for (let i = 0; i < tries; i++) {
    if (has(await asker.net.router.lookup(digest))) return Date.now() - t0
    for (let k = 0; k < 20; k++) {
      await new Promise(resolve => setTimeout(resolve, 100))
      if (has(asker.net.router.holders(digest))) return Date.now() - t0
    }
  }
  return -1
}

/** `k` distinct members of `from`, spread by `seed` (deterministic). */
function pick<T> (from: T[], k: number, seed: number): T[] {
  const out: T[] = []
  for (let i = 0; out.length < k && i < from.length * 4; i++) {
    const x = from[(seed * 7919 + i * 104729) % from.length]!
    if (!out.includes(x)) out.push(x)
  }
  return out
}

const pct = (xs: number[], p: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))] ?? -1

describe(`an office of ${N} agents on the DHT`, { timeout: 420_000 }, () => {
  const nodes: TestNode[] = []
  const stopped = new Set<TestNode>()
  let boot: string[] = []
  const live = (): TestNode[] => nodes.filter(n => !stopped.has(n))

  before(async () => {
    boot = await office(N, { maxMeshPeers: 0, dataPlane: false, ...SHARED_THREAD }, nodes)
    assert.equal(nodes.length, N)
  })

  after(async () => {
    await Promise.allSettled(live().map(async n => await within(n.net.stop(), 15_000, 'stop')))
  })

  it('lookups from any agent find holders on any other, partial holders with their ranges', async (t) => {
    const holders = pick(nodes, 12, 1)
    const blobs = holders.map((h, i) => ({ holder: h, partial: i % 2 === 1, digest: h.local.add(random(5000 + i), i % 2 === 1 ? [[0, 2000]] : undefined) }))
    // (One process runs all 100 agents: a provide here takes far longer than on a machine of its own.)
    assert.ok(await settle(() => blobs.every(b => b.holder.net.dht!.hasProvided(b.digest)), 120_000), 'every holder\'s record reached the DHT')
    const times: number[] = []
    let missed = 0
    for (const [i, b] of blobs.entries()) {
      const asker = pick(nodes.filter(n => n !== b.holder), 1, i + 11)[0]!
      const ms = await find(asker, b.digest, b.holder)
      if (ms < 0) {
        missed++
        const records = await asker.net.dht!.providerRecords(b.digest, 3000)
        t.diagnostic(`missed: agent ${nodes.indexOf(asker)} looking for agent ${nodes.indexOf(b.holder)}'s blob; the DHT names ${records.length} provider(s), the holder ${records.includes(b.holder.net.peerId) ? 'among them' : 'not among them'}; connected: ${asker.net.neighbours()}`)
        continue
      }
      times.push(ms)
      const h = asker.net.router.holders(b.digest).find(x => x.peerId === b.holder.net.peerId)!
      if (b.partial) assert.deepEqual(h.ranges, [[0, 2000]], 'a partial holder comes with its ranges')
      else assert.equal(h.complete, true)
    }
    t.diagnostic(`${blobs.length} lookups across ${N} agents: found ${times.length}, missed ${missed}; time to find p50 ${pct(times, 0.5)} ms, max ${pct(times, 1)} ms`)
    // Known gap (docs/ROUTING.md): in this young office, 100 agents on one thread, a record is
    // now and then not where a lookup looks (0 providers named): at most one in six may miss.
    assert.ok(missed <= blobs.length / 6, `${missed} of ${blobs.length} holders not found`)
  })

  it('churn: 30 agents leave and 10 join; the remaining holders are still found, also by newcomers', async (t) => {
    const holders = pick(nodes.slice(2), 8, 5)
    const blobs = holders.map((h, i) => ({ holder: h, digest: h.local.add(random(7000 + i)) }))
    assert.ok(await settle(() => blobs.every(b => b.holder.net.dht!.hasProvided(b.digest)), 60_000), 'records out before the churn')
    const leaving = pick(nodes.slice(2).filter(n => !holders.includes(n)), 30, 9)
    await Promise.all(leaving.map(async n => { stopped.add(n); await within(n.net.stop(), 15_000, 'stop') }))
    const joined: TestNode[] = await Promise.all(Array.from({ length: 10 }, async () => await startNode({ maxMeshPeers: 0, dataPlane: false, ...SHARED_THREAD, peers: boot })))
    nodes.push(...joined)
    await settle(() => joined.every(n => n.net.dht!.knownPeers() >= 2), 30_000)
    const times: number[] = []
    let missed = 0
    for (const [i, b] of blobs.entries()) {
      const stayed = pick(live().filter(n => n !== b.holder && !joined.includes(n)), 1, i + 17)[0]!
      for (const asker of [joined[i]!, stayed]) {
        const ms = await find(asker, b.digest, b.holder)
        if (ms < 0) missed++
        else times.push(ms)
      }
    }
    t.diagnostic(`after churn (${live().length} agents): ${blobs.length * 2} lookups, found ${times.length}, missed ${missed}; p50 ${pct(times, 0.5)} ms, max ${pct(times, 1)} ms`)
    assert.ok(missed <= (blobs.length * 2) / 6, `${missed} of ${blobs.length * 2} remaining holders not found (newcomers ask too)`)
  })
})

describe('provider records: those of an agent that left expire, those of an agent that stays are republished', { timeout: 120_000 }, () => {
  const TTL_MS = 6_000
  const REPROVIDE_MS = 2_000
  const nodes: TestNode[] = []

  after(async () => {
    await Promise.allSettled(nodes.map(async n => await within(n.net.stop(), 15_000, 'stop')))
    cleanupDirs()
  })

  it('expire and republish', async (t) => {
    await office(12, { maxMeshPeers: 0, dataPlane: false, dhtRecordTtlMs: TTL_MS, dhtReprovideMs: REPROVIDE_MS }, nodes)
    const [gone, stays, asker] = [nodes[5]!, nodes[7]!, nodes[10]!]
    const dGone = gone.local.add(random(4000))
    const dStays = stays.local.add(random(4001))
    assert.ok(await find(asker, dGone, gone, 10) >= 0, 'found while it is there')
    assert.ok(await find(asker, dStays, stays, 10) >= 0)
    await gone.net.stop()
    assert.ok((await asker.net.dht!.providerRecords(dGone, 10_000)).includes(gone.net.peerId), 'its record outlives it for a while')
    // Meanwhile a lookup costs at most the bounded dial, and names no holder.
    const t0 = Date.now()
    assert.deepEqual((await asker.net.router.lookup(dGone)).map(h => h.peerId), [])
    const lookupMs = Date.now() - t0
    // Past the record lifetime (plus a cleanup round): no agent serves it any more.
    await new Promise(resolve => setTimeout(resolve, TTL_MS))
    const expired = await (async () => {
      for (let i = 0; i < 10; i++) {
        if (!(await asker.net.dht!.providerRecords(dGone, 10_000)).includes(gone.net.peerId)) return true
        await new Promise(resolve => setTimeout(resolve, 1000))
      }
      return false
    })()
    const staysRecords = await asker.net.dht!.providerRecords(dStays, 10_000)
    t.diagnostic(`lookup with the departed provider's record ${lookupMs} ms; its record expired: ${expired}; the staying agent's record republished: ${staysRecords.includes(stays.net.peerId)}`)
    assert.ok(expired, 'the departed agent\'s record expired')
    assert.ok(staysRecords.includes(stays.net.peerId), 'the staying agent\'s record lives on (republished)')
  })
})
