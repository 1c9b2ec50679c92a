// Fig. 11: what idle agents cost. N agents on one bridge (namespaces), peers found with mDNS as
// in an office, nothing to do: CPU (user + sys of every agent) and bytes sent on their
// interfaces (from /proc/net/dev in each namespace), per second in total and per agent, for
// several office sizes.

import type { NetHost } from '../../test/helpers/netns.js'
import { ENV, wanted, type Bench } from '../context.js'
import { CpuMeter, cpuSecs, memOf, f1, f2 } from '../lib.js'
import { startBenchNet, type BenchNet, type NetAgent } from '../net.js'

/** TX bytes of eth0 inside a host's namespace. */
async function txBytes (bn: BenchNet, h: NetHost): Promise<number> {
  const r = await bn.net.run(h, 'cat', ['/proc/net/dev'], { timeoutMs: 5000 })
  const line = r.stdout.split('\n').find(l => l.trim().startsWith('eth0:'))
  if (line === undefined) return NaN
  const f = line.split(':')[1]!.trim().split(/\s+/)
  return Number(f[8])
}

/** TX bytes of each host's eth0. */
async function txAll (bn: BenchNet, hosts: NetHost[]): Promise<number[]> {
  return await Promise.all(hosts.map(async h => await txBytes(bn, h)))
}
/** Bytes the hosts sent between two readings of txAll. */
function sentSince (before: number[], after: number[]): number {
  return after.reduce((sum, v, i) => sum + v - (before[i] as number), 0)
}

/** How long a joining agent is watched (its start, mDNS at 1 s and 4 s, connections, DHT start). */
const JOIN_MS = 15_000

export async function idleAgents (b: Bench): Promise<void> {
  if (!wanted('11')) return
  const sizes = ENV.IDLE_SIZES
  const rows: Array<{ n: number, cpuPct: number, txKBs: number, rssMB: number, startCpu: number, startSecs: number, startKB: number, joinOwn: number, joinOffice: number, joinKB: number }> = []
  for (const n of sizes) {
    const bn = await startBenchNet(b.registry, n + 2)
    try {
      const hosts = bn.hosts.slice(1, n + 1)
      const agents: NetAgent[] = []
      const started = performance.now()
      const txStart = await txAll(bn, hosts)
      // Five at a time, each five connected before the next start, as workstations boot through
      // a morning: a hundred agents started at once on 2 cores measure only the start (each join
      // costs every agent ~0.2 CPU s, see the join figure), and some waited more than a minute
      // for their first peers.
      const want = Math.min(n - 1, ENV.IDLE_MIN_PEERS)
      for (let i = 0; i < hosts.length; i += 5) {
        const batch = await Promise.all(hosts.slice(i, i + 5).map(async h => await bn.startAgent(h, { mdns: true })))
        agents.push(...batch)
        await bn.waitAllPeers(batch, Math.min(agents.length - 1, want))
      }
      await bn.waitAllPeers(agents, want)
      // Let the start settle: identify, the first mDNS rounds, and each agent's one burst of CPU
      // 5–16 s after it started (kad-dht's first self-query and table refresh; docs/ROUTING.md).
      await new Promise(resolve => setTimeout(resolve, ENV.IDLE_SETTLE_MS))
      // Joining: CPU of every agent from its start until here (handshakes, identify, inventories,
      // DHT tables), per agent.
      const startCpu = agents.reduce((sum, a) => sum + cpuSecs(a.agent.pid), 0) / n
      const startSecs = (performance.now() - started) / 1000
      const tx0 = await txAll(bn, hosts)
      const startKB = sentSince(txStart, tx0) / 1e3 / n
      const meter = new CpuMeter(agents.map(a => a.agent.pid))
      const t0 = performance.now()
      await new Promise(resolve => setTimeout(resolve, ENV.IDLE_MS))
      const secs = (performance.now() - t0) / 1000
      const cpu = meter.stop()
      const tx = sentSince(tx0, await txAll(bn, hosts))
      const rss = Math.max(...agents.map(a => memOf(a.agent.pid).hwmMB))
      // One more agent joins the settled office (a workstation that boots): its CPU and the
      // office's, from its start until JOIN_MS after, and the bytes all of them sent meanwhile.
      const newHost = bn.hosts[n + 1] as NetHost
      const office = new CpuMeter(agents.map(a => a.agent.pid))
      const j0 = await txAll(bn, [...hosts, newHost])
      const joiner = await bn.startAgent(newHost, { mdns: true })
      await new Promise(resolve => setTimeout(resolve, JOIN_MS))
      const joinOwn = cpuSecs(joiner.agent.pid)
      const joinOffice = office.stop()
      const joinKB = sentSince(j0, await txAll(bn, [...hosts, newHost])) / 1e3
      const row = { n, cpuPct: 100 * cpu / secs, txKBs: tx / 1e3 / secs, rssMB: rss, startCpu, startSecs, startKB, joinOwn, joinOffice, joinKB }
      rows.push(row)
      b.report.say(`  ${n} idle agents: CPU ${f2(row.cpuPct)}% of one core, sent ${f2(row.txKBs)} KB/s in total, peak RSS ${f1(rss)} MB; joining took ${f1(startSecs)} s, ${f2(startCpu)} CPU s and ${f1(startKB)} KB sent per agent`)
      b.report.say(`  one more agent joins ${n}: its CPU ${f2(joinOwn)} s (since its start), the others' ${f2(joinOffice)} s in total, ${f1(joinKB)} KB sent in all (first ${JOIN_MS / 1000} s)`)
      await joiner.agent.stop()
      for (const a of agents) await a.agent.stop()
    } finally { await bn.destroy() }
  }
  b.report.raw.idle = rows
  for (const r of rows) {
    b.report.add({ fig: '11', what: `${r.n} idle agents (mDNS): traffic in total, per agent ${f2(r.txKBs / r.n)} KB/s`, value: r.txKBs, unit: 'KB/s', target: r.n === 20 ? '< 20' : undefined, ok: r.n === 20 ? r.txKBs < 20 : undefined })
    b.report.add({ fig: '11', what: `${r.n} idle agents: CPU in total, per agent ${f2(r.cpuPct / r.n)} %`, value: r.cpuPct, unit: '%', target: r.n === 20 ? '< 10' : undefined, ok: r.n === 20 ? r.cpuPct < 10 : undefined })
    b.report.add({ fig: '11', what: `${r.n} agents joining (start, connect, settle ${f1(r.startSecs)} s): CPU per agent, sent ${f1(r.startKB)} KB`, value: r.startCpu, unit: 's' })
    b.report.add({ fig: '11', what: `one agent joins ${r.n}: the others' CPU in total (its own ${f2(r.joinOwn)} s; ${f1(r.joinKB)} KB sent in all)`, value: r.joinOffice, unit: 's' })
    b.report.add({ fig: '11', what: `${r.n} idle agents: peak RSS of the largest`, value: r.rssMB, unit: 'MB', target: '< 200', ok: r.rssMB < 200 })
  }
}
