// One agent on loopback against docker-registry: cold pulls (fig. 2), the durability floor
// (fig. 10), cache hits (fig. 1) and memory with many clients (fig. 3).

import { join } from 'node:path'
import type { LayerInfo } from '../../test/helpers/images.js'
import { makeTempDir, removeTempDir, run } from '../../test/helpers/proc.js'
import { blobUrl, ENV, localAgent, wanted, type Agent, type Bench } from '../context.js'
import { CpuMeter, PeakParts, PeakRss, curlGet, getSha256, median, mbps, memOf, f1, f2, perGB } from '../lib.js'
import { hexOf, must } from '../report.js'

const reg = (b: Bench, l: LayerInfo): string => blobUrl(b.registry.url, 'bench/big', l.digest)
const via = (a: Agent, l: LayerInfo): string => blobUrl(a.url, 'bench/big', l.digest)

/**
 * Fig. 2: cold pull, straight from the registry vs through a fresh agent (empty store), in
 * alternating order. Returns the last agent: it holds the big blob complete for what follows.
 */
export async function coldPull (b: Bench): Promise<Agent> {
  const { report } = b
  const big = b.big.layers[0] as LayerInfo
  const direct: number[] = []
  const agent: number[] = []
  const rss: number[] = []
  const idle: number[] = []
  const cpu: number[] = []
  const parts: string[] = []
  let keep: Agent | undefined
  for (let i = 0; i < ENV.RUNS; i++) {
    for (const which of i % 2 === 0 ? ['direct', 'agent'] : ['agent', 'direct']) {
      if (which === 'direct') {
        const r = await curlGet(reg(b, big))
        must(r.bytes === big.size, 'registry: short body')
        direct.push(r.secs)
      } else {
        const a = await localAgent(b.registry.url)
        idle.push(memOf(a.pid).rssMB)
        const peak = new PeakRss(a.pid)
        const where = new PeakParts([a.pid], 200)
        const meter = new CpuMeter([a.pid])
        const r = await curlGet(via(a, big))
        cpu.push(perGB(meter.stop(), big.size))
        rss.push(peak.stop())
        parts.push(where.stop().get(a.pid)?.parts ?? '-')
        must(r.bytes === big.size, 'agent cold: short body')
        agent.push(r.secs)
        if (i === ENV.RUNS - 1) keep = a
        else await a.stop()
      }
    }
  }
  report.raw.coldPull = { directSecs: direct, agentSecs: agent, agentPeakRssMB: rss, cpuPerGB: cpu }
  const d = median(direct); const a = median(agent)
  report.add({ fig: '2', what: 'cold pull time via agent (empty store) vs registry direct, loopback', value: a, unit: 's', baseline: d, ratio: a / d, target: '≤ 2', ok: a / d <= 2, cpuPerGB: median(cpu),
    detail: `agent ${f1(mbps(big.size, a))} MB/s vs registry ${f1(mbps(big.size, d))} MB/s; runs agent [${agent.map(f2).join(' ')}] registry [${direct.map(f2).join(' ')}]` })
  report.add({ fig: '2', what: 'peak RSS agent during cold pull', value: median(rss), unit: 'MB', target: '< 150', ok: Math.max(...rss) < 150, detail: `runs [${rss.map(f1).join(' ')}]; at the largest: ${parts[rss.indexOf(Math.max(...rss))] ?? '-'}` })
  report.add({ fig: '-', what: 'RSS of an idle agent just started', value: median(idle), unit: 'MB', target: '< 90', ok: median(idle) < 90, detail: `runs [${idle.map(f1).join(' ')}]` })
  const kept = keep as Agent
  const v = await getSha256(via(kept, big))
  must(v.sha256 === hexOf(big.digest), `agent: big blob sha256 mismatch ${v.sha256}`)
  const quarter = b.big.layers[1] as LayerInfo
  await curlGet(via(kept, quarter))
  must((await getSha256(via(kept, quarter))).sha256 === hexOf(quarter.digest), 'agent: quarter blob sha256 mismatch')
  return kept
}

/**
 * Fig. 10: a cold COLD_MB blob through a fresh agent vs the durability floor: curl from the
 * registry into `dd bs=4M oflag=dsync` on the same file system as the agent's store (what it
 * costs to make the bytes durable at all). Median of alternating pairs.
 */
export async function durabilityFloor (b: Bench, blob: LayerInfo, repo: string): Promise<void> {
  if (!wanted('10')) return
  const { report } = b
  const floor: number[] = []
  const agent: number[] = []
  const cpu: number[] = []
  const rss: number[] = []
  const dir = makeTempDir('bench-floor')
  try {
    for (let i = 0; i < ENV.RUNS; i++) {
      for (const which of i % 2 === 0 ? ['floor', 'agent'] : ['agent', 'floor']) {
        if (which === 'floor') {
          const out = join(dir, 'floor.bin')
          const t0 = performance.now()
          const r = await run('sh', ['-c', `curl -s --noproxy '*' '${blobUrl(b.registry.url, repo, blob.digest)}' | dd of=${out} bs=4M iflag=fullblock oflag=dsync status=none`], { timeoutMs: 600_000 })
          must(r.code === 0, `durability floor: ${r.stderr}`)
          floor.push((performance.now() - t0) / 1000)
          await run('rm', ['-f', out])
        } else {
          const a = await localAgent(b.registry.url)
          try {
            const peak = new PeakRss(a.pid)
            const meter = new CpuMeter([a.pid])
            const r = await curlGet(blobUrl(a.url, repo, blob.digest))
            must(r.bytes === blob.size, 'cold agent: short body')
            cpu.push(perGB(meter.stop(), blob.size))
            rss.push(peak.stop())
            agent.push(r.secs)
          } finally { await a.stop() }
        }
      }
    }
  } finally { removeTempDir(dir) }
  const f = median(floor); const a = median(agent)
  report.raw.durabilityFloor = { floorSecs: floor, agentSecs: agent, cpuPerGB: cpu, peakRssMB: rss }
  report.add({ fig: '10', what: `cold ${f1(blob.size / 1e6)} MB blob via agent vs durability floor (curl | dd oflag=dsync)`, value: a, unit: 's', baseline: f, ratio: a / f, target: '≤ 1.25', ok: a / f <= 1.25, cpuPerGB: median(cpu),
    detail: `agent ${f1(mbps(blob.size, a))} MB/s, floor ${f1(mbps(blob.size, f))} MB/s; pairs agent [${agent.map(f2).join(' ')}] floor [${floor.map(f2).join(' ')}]; peak RSS ${f1(Math.max(...rss))} MB` })
}

/** Fig. 1 and 3: cache hits against docker-registry serving the same blob, and RSS per client count. */
export async function cacheHits (b: Bench, agentA: Agent): Promise<void> {
  const { report } = b
  const big = b.big.layers[0] as LayerInfo
  const quarter = b.big.layers[1] as LayerInfo
  if (wanted('1')) {
    for (const [label, l] of [['full', big], ['1/4', quarter]] as const) {
      const regS: number[] = []
      const agS: number[] = []
      const rss: number[] = []
      const cpu: number[] = []
      for (let i = 0; i < ENV.RUNS; i++) {
        for (const which of i % 2 === 0 ? ['registry', 'agent'] : ['agent', 'registry']) {
          if (which === 'registry') {
            regS.push((await curlGet(reg(b, l))).secs)
          } else {
            const peak = new PeakRss(agentA.pid)
            const meter = new CpuMeter([agentA.pid])
            const r = await curlGet(via(agentA, l))
            cpu.push(perGB(meter.stop(), l.size))
            rss.push(peak.stop())
            must(r.bytes === l.size, 'agent hit: short body')
            agS.push(r.secs)
          }
        }
      }
      const ra = mbps(l.size, median(agS)); const rr = mbps(l.size, median(regS))
      report.raw[`cacheHit_${label}`] = { agentSecs: agS, registrySecs: regS, agentPeakRssMB: rss, cpuPerGB: cpu }
      report.add({ fig: '1', what: `cache hit throughput agent/registry (${label}, ${f1(l.size / 1e6)} MB)`, value: ra, unit: 'MB/s', baseline: rr, ratio: ra / rr, target: label === 'full' ? '≥ 1.0' : undefined, ok: label === 'full' ? ra / rr >= 1.0 : undefined, cpuPerGB: median(cpu),
        detail: `runs agent [${agS.map(f2).join(' ')}] s, registry [${regS.map(f2).join(' ')}] s` })
      report.add({ fig: '3', what: `peak RSS agent, 1 client, ${label} blob`, value: median(rss), unit: 'MB', target: '< 150', ok: Math.max(...rss) < 150, detail: `runs [${rss.map(f1).join(' ')}]` })
    }
  }
  if (wanted('3')) {
    const rssBy: Record<string, number> = {}
    for (const [label, l] of [['full', big], ['1/4', quarter]] as const) {
      const peak = new PeakRss(agentA.pid)
      const where = new PeakParts([agentA.pid], 200)
      const meter = new CpuMeter([agentA.pid])
      let t0 = performance.now()
      const rs = await Promise.all(Array.from({ length: ENV.CLIENTS }, async () => await curlGet(via(agentA, l))))
      const agWall = (performance.now() - t0) / 1000
      const cpu = perGB(meter.stop(), l.size * ENV.CLIENTS)
      const rss = peak.stop()
      const parts = where.stop().get(agentA.pid)?.parts ?? '-'
      must(rs.every(r => r.bytes === l.size), 'agent concurrent: short body')
      t0 = performance.now()
      await Promise.all(Array.from({ length: ENV.CLIENTS }, async () => await curlGet(reg(b, l))))
      const regWall = (performance.now() - t0) / 1000
      rssBy[label] = rss
      const agg = mbps(l.size * ENV.CLIENTS, agWall); const aggR = mbps(l.size * ENV.CLIENTS, regWall)
      report.raw[`concurrent_${label}`] = { clients: ENV.CLIENTS, agentWallSecs: agWall, registryWallSecs: regWall, agentPeakRssMB: rss, cpuPerGB: cpu }
      report.add({ fig: '3', what: `peak RSS agent, ${ENV.CLIENTS} clients, ${label} blob`, value: rss, unit: 'MB', target: '< 150', ok: rss < 150, cpuPerGB: cpu,
        detail: `aggregate agent ${f1(agg)} MB/s vs registry ${f1(aggR)} MB/s (ratio ${f2(agg / aggR)}); at the peak: ${parts}` })
    }
    const full = rssBy.full as number; const q = rssBy['1/4'] as number
    report.add({ fig: '3', what: `RSS flatness: ${ENV.CLIENTS} clients full / 1/4 size`, value: full / q, unit: 'x', target: '≈ 1 (flat)', ok: full / q < 1.25 })
  }
}
