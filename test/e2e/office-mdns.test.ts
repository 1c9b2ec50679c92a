// mDNS discovery between real agents in namespaces (src/p2p/mdns.ts):
// 1. Agents started at the same instant find each other within seconds, not at the next query
//    interval (a minute by default): the early queries after start.
// 2. A burst of queries (agents that start together each ask at once) gets one answer from each
//    agent, not one per query: in an office of 35, five agents starting together drew 175
//    answers to every socket in a few milliseconds, more than its receive buffer holds, and the
//    newest agents heard no one for a minute.
// 3. An idle segment asks about once per interval, not once per agent per interval: the UDP
//    datagrams every agent's namespace sent (mDNS is layerd's only UDP), counted by the kernel,
//    stay far below what one query per agent per interval costs (N queries, N·(N-1) answers).

import { describe, test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { stopAll, waitFor } from '../helpers/proc.js'
import { startOffice, type Office, type OfficeAgent } from '../helpers/office.js'
import { writeConfig } from '../helpers/agent-http.js'

after(stopAll)

const N = 6

/** OutDatagrams of the UDP counters in a host's namespace. */
async function udpOut (office: Office, a: OfficeAgent): Promise<number> {
  const r = await office.net.run(a.host, 'cat', ['/proc/net/snmp'])
  const lines = r.stdout.split('\n').filter(l => l.startsWith('Udp:'))
  const names = lines[0]?.split(/\s+/) ?? []
  const values = lines[1]?.split(/\s+/) ?? []
  const v = Number(values[names.indexOf('OutDatagrams')])
  assert.ok(Number.isFinite(v), `Udp OutDatagrams in /proc/net/snmp of ${a.host.ns}`)
  return v
}

async function meshed (hs: OfficeAgent[], timeoutMs: number): Promise<void> {
  await waitFor(async () => {
    for (const a of hs) if ((await a.peers()).peers.length < hs.length - 1) return false
    return true
  }, { timeoutMs, intervalMs: 250, what: `each of ${hs.length} agents connected to the others` })
}

describe('mDNS between real agents', { timeout: 180_000 }, () => {
  let office: Office
  let hs: OfficeAgent[] = []

  before(async () => {
    // The default interval (1 min): only the early queries can make a fast first meeting.
    office = await startOffice({ hosts: N, config: { p2p: { mdnsInterval: 60_000 } } })
  })

  after(async () => {
    for (const a of hs) if (a.agent.alive()) await a.agent.stop({ keepData: false })
    await office?.stop()
  })

  test(`${N} agents started at the same instant are all connected within 15 s (interval 1 min)`, async () => {
    hs = await Promise.all(Array.from({ length: N }, async (_, i) => await office.startAgent(i + 1)))
    const t0 = Date.now()
    await meshed(hs, 15_000)
    // A peer that dialled us may connect before its answer (paced, 20 ms to 1 s) reaches us.
    await waitFor(async () => {
      for (const a of hs) if (!(await a.peers()).peers.every(p => p.foundBy === 'mdns')) return false
      return true
    }, { timeoutMs: Math.max(1000, 15_000 - (Date.now() - t0)), intervalMs: 250, what: 'every peer found by mdns' })
  })

  test('five queries within 100 ms get one answer from each agent', async () => {
    // Past the early queries (1 s and 4 s after start) of the agents of the test before.
    await new Promise(resolve => setTimeout(resolve, 5000))
    const u0 = await Promise.all(hs.map(async a => await udpOut(office, a)))
    const burst = fileURLToPath(new URL('../helpers/mdns-burst.js', import.meta.url))
    const r = await office.net.run(office.upstreamHost, process.execPath, [burst, '5', '20'], { timeoutMs: 10_000 })
    assert.equal(r.code, 0, r.stderr)
    // Answers go out 20–120 ms after the query.
    await new Promise(resolve => setTimeout(resolve, 800))
    const u1 = await Promise.all(hs.map(async a => await udpOut(office, a)))
    assert.deepEqual(u1.map((v, i) => v - (u0[i] as number)), hs.map(() => 1), 'datagrams each agent sent after five queries')
  })

  test('an idle segment sends about one query round per interval, not one per agent', async (t) => {
    for (const a of hs) await a.agent.stop({ keepData: false })
    const intervalMs = 2000
    const fast = writeConfig(join(office.dir, 'fast-mdns.yaml'), { p2p: { mdnsInterval: intervalMs } })
    hs = []
    for (let i = 1; i <= N; i++) hs.push(await office.startAgent(i, { extraArgs: ['--config', fast] }))
    await meshed(hs, 20_000)
    // Past the early queries of the last one to start.
    await new Promise(resolve => setTimeout(resolve, 5000))
    const u0 = await Promise.all(hs.map(async a => await udpOut(office, a)))
    const t0 = performance.now()
    await new Promise(resolve => setTimeout(resolve, 8 * intervalMs))
    const rounds = (performance.now() - t0) / intervalMs
    const u1 = await Promise.all(hs.map(async a => await udpOut(office, a)))
    const sent = u1.reduce((s, v, i) => s + v - (u0[i] as number), 0)
    // One query per agent per interval: N queries and N·(N-1) answers each round.
    const perAgent = rounds * N * N
    t.diagnostic(`${N} agents, ${rounds.toFixed(1)} intervals: ${sent} mDNS datagrams (one query per agent per interval would be ≈ ${perAgent.toFixed(0)}; one per segment ≈ ${(rounds * N).toFixed(0)})`)
    assert.ok(sent > 0, 'some mDNS traffic at all (the counters work)')
    assert.ok(sent < perAgent / 3, `${sent} datagrams in ${rounds.toFixed(1)} intervals`)
    // Still one mesh.
    await meshed(hs, 5000)
  })
})
