// Figures in namespaces (bench/net.ts): many small layers with a neighbour vs alone (fig. 7),
// the peer path end to end vs plain HTTP over the bridge (fig. 8), three upload-capped
// neighbours (fig. 9) and three hosts pulling cold at once behind a shaped link (fig. 5).

import { join } from 'node:path'
import { writeConfig } from '../../test/helpers/agent-http.js'
import type { BuiltImage, LayerInfo } from '../../test/helpers/images.js'
import type { NetHost } from '../../test/helpers/netns.js'
import { blobUrl, ENV, UP, wanted, type Bench } from '../context.js'
import { CpuMeter, ThreadCpuMeter, PeakRss, median, mbps, memOf, f1, f2, perGB } from '../lib.js'
import { startBenchNet, type BenchNet, type NetAgent } from '../net.js'
import { hexOf, must } from '../report.js'

const host = (bn: BenchNet, i: number): NetHost => bn.hosts[i - 1] as NetHost

async function verifyVia (bn: BenchNet, a: NetAgent, repo: string, l: LayerInfo): Promise<void> {
  const r = await bn.net.run(a.host, 'sh', ['-c', `curl -s --noproxy '*' ${blobUrl('http://127.0.0.1:5000', repo, l.digest)} | sha256sum`], { timeoutMs: 120_000 })
  must(r.stdout.startsWith(hexOf(l.digest)), `${a.host.ns}: sha256 mismatch for ${l.digest}`)
}

/**
 * Fig. 7: a cold pull (skopeo, tag → manifest → blobs) of an image of many small layers through
 * a fresh agent, with one connected neighbour that holds nothing vs the same agent alone.
 */
export async function smallLayers (b: Bench, img: BuiltImage): Promise<void> {
  if (!wanted('7')) return
  const bn = await startBenchNet(b.registry, 3)
  try {
    const alone: number[] = []
    const withN: number[] = []
    const cpu: number[] = []
    const up: number[] = []
    const bytes = img.layers.reduce((n, l) => n + l.size, 0)
    let n = 0
    for (let i = 0; i < ENV.RUNS; i++) {
      for (const which of i % 2 === 0 ? ['alone', 'neighbour'] : ['neighbour', 'alone']) {
        const neighbour = which === 'neighbour' ? await bn.startAgent(host(bn, 3)) : undefined
        const a = await bn.startAgent(host(bn, 2), { peers: neighbour !== undefined ? [neighbour] : [] })
        try {
          if (neighbour !== undefined) await bn.waitPeers(a, 1)
          await bn.reset()
          const meter = new CpuMeter([a.agent.pid])
          const secs = await bn.pull(host(bn, 2), `${UP}/bench/small:v1`, join(bn.dir, `small-${++n}`))
          const c = meter.stop()
          const st = await bn.stats()
          up.push(st.totalBytes / bytes)
          if (which === 'alone') alone.push(secs)
          else { withN.push(secs); cpu.push(perGB(c, bytes)) }
          b.report.say(`  small layers ${which}: ${f2(secs)} s, upstream ${st.totalBytes} bytes in ${st.blobGets} blob GETs`)
        } finally {
          await a.agent.stop()
          await neighbour?.agent.stop()
        }
      }
    }
    const a = median(alone); const w = median(withN)
    b.report.raw.smallLayers = { layers: img.layers.length, bytes, aloneSecs: alone, neighbourSecs: withN, upstreamRatio: up }
    b.report.add({ fig: '7', what: `cold pull of ${img.layers.length} layers of ${f1(ENV.SMALL_KB / 1024)} MiB, with a neighbour vs alone`, value: w, unit: 's', baseline: a, ratio: w / a, target: '≤ 1.25', ok: w / a <= 1.25, cpuPerGB: median(cpu),
      detail: `pairs neighbour [${withN.map(f2).join(' ')}] alone [${alone.map(f2).join(' ')}] s; upstream/image [${up.map(f2).join(' ')}]` })
  } finally { await bn.destroy() }
}

/**
 * Fig. 8: a client pulls a COLD_MB blob that its neighbour holds, through its agent, vs a plain
 * HTTP GET of the same blob from docker-registry over the same bridge.
 */
export async function peerPath (b: Bench, img: BuiltImage): Promise<void> {
  if (!wanted('8')) return
  const blob = img.layers[0] as LayerInfo
  const repo = 'bench/cold'
  const bn = await startBenchNet(b.registry, 3)
  try {
    const holder = await bn.startAgent(host(bn, 2))
    const fill = await bn.curl(host(bn, 2), blobUrl('http://127.0.0.1:5000', repo, blob.digest))
    must(fill.bytes === blob.size, 'holder fill: short body')
    await verifyVia(bn, holder, repo, blob)
    const plain: number[] = []
    const peer: number[] = []
    const cpu: number[] = []
    const rss: number[] = []
    const threads: string[] = []
    for (let i = 0; i < ENV.RUNS; i++) {
      for (const which of i % 2 === 0 ? ['plain', 'peer'] : ['peer', 'plain']) {
        if (which === 'plain') {
          const r = await bn.curl(host(bn, 3), blobUrl(bn.registryUrl, repo, blob.digest))
          must(r.bytes === blob.size, 'plain: short body')
          plain.push(r.secs)
          continue
        }
        const a = await bn.startAgent(host(bn, 3), { peers: [holder] })
        try {
          await bn.waitPeers(a, 1)
          await waitForHolder(bn, a, blob.digest)
          await bn.reset()
          const meter = new CpuMeter([a.agent.pid, holder.agent.pid])
          const pa = new PeakRss(a.agent.pid); const ph = new PeakRss(holder.agent.pid)
          const ta = new ThreadCpuMeter(a.agent.pid); const th = new ThreadCpuMeter(holder.agent.pid)
          const r = await bn.curl(host(bn, 3), blobUrl('http://127.0.0.1:5000', repo, blob.digest))
          cpu.push(perGB(meter.stop(), blob.size))
          threads.push(`fetching agent: ${ta.stop()}; holder: ${th.stop()}`)
          rss.push(pa.stop(), ph.stop())
          must(r.bytes === blob.size, 'peer path: short body')
          const st = await bn.stats()
          must(st.blobGets === 0, `peer path: ${st.blobGets} blob GETs went upstream`)
          peer.push(r.secs)
          await verifyVia(bn, a, repo, blob)
        } finally { await a.agent.stop() }
      }
    }
    const pp = mbps(blob.size, median(peer)); const hp = mbps(blob.size, median(plain))
    b.report.raw.peerPath = { bytes: blob.size, peerSecs: peer, plainSecs: plain, cpuPerGB: cpu, peakRssMB: rss, threadCpuSecs: threads }
    for (const t of threads) b.report.say(`  CPU s per thread, ${t}`)
    b.report.add({ fig: '8', what: `client ← its agent ← neighbour (${f1(blob.size / 1e6)} MB) vs plain HTTP GET over the bridge`, value: pp, unit: 'MB/s', baseline: hp, ratio: pp / hp, target: '≥ 0.5', ok: pp / hp >= 0.5, cpuPerGB: median(cpu),
      detail: `runs peer [${peer.map(f2).join(' ')}] s, plain [${plain.map(f2).join(' ')}] s; CPU of both agents; peak RSS ${f1(Math.max(...rss))} MB` })
  } finally { await bn.destroy() }
}

/** Wait until `a` sees a neighbour holding `digest` complete (from its peers JSON, over loopback). */
async function waitForHolder (bn: BenchNet, a: NetAgent, _digest: string): Promise<void> {
  const deadline = Date.now() + 30_000
  while (Date.now() < deadline) {
    const r = await bn.net.run(a.host, 'curl', ['-s', '--noproxy', '*', 'http://127.0.0.1:5000/_layerd/peers'], { timeoutMs: 5000 })
    try {
      const j = JSON.parse(r.stdout) as { peers: Array<{ completeBlobs: number }> }
      if (j.peers.some(p => p.completeBlobs > 0)) return
    } catch {}
    await new Promise(resolve => setTimeout(resolve, 100))
  }
  throw new Error(`${a.host.ns}: no neighbour with a complete blob after 30 s`)
}

/** Fig. 9: three neighbours, each capped at CAP_MIBS MiB/s of upload, serve one client's pull. */
export async function cappedNeighbours (b: Bench, img: BuiltImage): Promise<void> {
  if (!wanted('9')) return
  const blob = img.layers[0] as LayerInfo
  const repo = 'bench/capped'
  const cap = ENV.CAP_MIBS * 1024 * 1024
  const bn = await startBenchNet(b.registry, 5)
  try {
    const cfg = writeConfig(join(bn.dir, 'capped.yaml'), { p2p: { uploadRate: cap } })
    const holders: NetAgent[] = []
    for (const i of [2, 3, 4]) {
      const h = await bn.startAgent(host(bn, i), { configFile: cfg })
      const r = await bn.curl(host(bn, i), blobUrl('http://127.0.0.1:5000', repo, blob.digest))
      must(r.bytes === blob.size, 'capped holder fill: short body')
      holders.push(h)
    }
    const rates: number[] = []
    const rss: number[] = []
    const cpu: number[] = []
    for (let i = 0; i < ENV.RUNS; i++) {
      const a = await bn.startAgent(host(bn, 5), { peers: holders })
      try {
        await bn.waitPeers(a, 3)
        await waitForHolder(bn, a, blob.digest)
        await bn.reset()
        const peak = new PeakRss(a.agent.pid)
        const meter = new CpuMeter([a.agent.pid])
        const r = await bn.curl(host(bn, 5), blobUrl('http://127.0.0.1:5000', repo, blob.digest))
        cpu.push(perGB(meter.stop(), blob.size))
        rss.push(peak.stop())
        must(r.bytes === blob.size, 'capped: short body')
        const st = await bn.stats()
        must(st.blobGets === 0, `capped: ${st.blobGets} blob GETs went upstream`)
        rates.push(blob.size / r.secs / cap)
        await verifyVia(bn, a, repo, blob)
      } finally { await a.agent.stop() }
    }
    const x = median(rates)
    b.report.raw.capped = { cap, bytes: blob.size, rates, peakRssMB: rss }
    b.report.add({ fig: '9', what: `3 neighbours each capped at ${ENV.CAP_MIBS} MiB/s upload, one client pull`, value: x, unit: 'x cap', target: '≥ 2.4', ok: x >= 2.4, cpuPerGB: median(cpu),
      detail: `runs [${rates.map(f2).join(' ')}]x of one cap; puller peak RSS ${f1(Math.max(...rss))} MB` })
  } finally { await bn.destroy() }
}

/**
 * Fig. 5: h2..h4 pull the same image cold at once behind a shaped link vs h2 alone: the office
 * must cost the link one copy, and no more time than one agent alone.
 */
export async function threeHosts (b: Bench, netImg: BuiltImage): Promise<void> {
  if (!wanted('5')) return
  const bn = await startBenchNet(b.registry, 4)
  try {
    await bn.shape(ENV.NET_RATE)
    const blobs = netImg.layers
    const total = blobs.reduce((s, l) => s + l.size, 0)
    const pullers = bn.hosts.slice(1)
    const pull = async (h: NetHost, base: string): Promise<number> => {
      const t0 = performance.now()
      const rs = await Promise.all(blobs.map(async l => await bn.curl(h, blobUrl(base, 'bench/net', l.digest))))
      must(rs.every((r, i) => r.bytes === blobs[i]?.size), `${h.ns}: short body`)
      return (performance.now() - t0) / 1000
    }
    const startAll = async (): Promise<NetAgent[]> => {
      const as: NetAgent[] = []
      for (const h of pullers) as.push(await bn.startAgent(h, { extraArgs: pullers.filter(o => o !== h).flatMap(o => ['--peer', `/ip4/${o.ip}/tcp/4050`]) }))
      for (const a of as) await bn.waitPeers(a, pullers.length - 1)
      return as
    }
    await bn.reset()
    const directSecs = await pull(pullers[0] as NetHost, bn.upstreamUrl)
    b.report.say(`  shaped link direct: ${f1(directSecs)} s, ${f1(mbps(total, directSecs) * 8)} Mbit/s`)
    const alone: Array<{ secs: number, bytes: number }> = []
    const together: Array<{ secs: number, perHost: number[], bytes: number, rss: number[] }> = []
    for (let i = 0; i < ENV.NET_RUNS; i++) {
      for (const which of i % 2 === 0 ? ['alone', 'together'] : ['together', 'alone']) {
        const as = await startAll()
        try {
          await bn.reset()
          if (which === 'alone') {
            const secs = await pull(pullers[0] as NetHost, 'http://127.0.0.1:5000')
            const st = await bn.stats()
            for (const l of blobs) await verifyVia(bn, as[0] as NetAgent, 'bench/net', l)
            alone.push({ secs, bytes: st.totalBytes })
            b.report.say(`  alone: ${f1(secs)} s, upstream ${st.totalBytes} bytes (${st.blobGets} blob GETs)`)
          } else {
            const t0 = performance.now()
            const perHost = await Promise.all(pullers.map(async h => await pull(h, 'http://127.0.0.1:5000')))
            const secs = (performance.now() - t0) / 1000
            const st = await bn.stats()
            for (const a of as) for (const l of blobs) await verifyVia(bn, a, 'bench/net', l)
            const rss = as.map(a => memOf(a.agent.pid).hwmMB)
            together.push({ secs, perHost, bytes: st.totalBytes, rss })
            b.report.say(`  together: ${f1(secs)} s [${perHost.map(f1).join(' ')}], upstream ${st.totalBytes} bytes (${st.blobGets} blob GETs), RSS [${rss.map(f1).join(' ')}] MB`)
          }
        } finally { for (const a of as) await a.agent.stop() }
      }
    }
    const aS = median(alone.map(x => x.secs)); const tS = median(together.map(x => x.secs))
    const aB = median(alone.map(x => x.bytes)); const tB = median(together.map(x => x.bytes))
    b.report.raw.threeHosts = { rate: ENV.NET_RATE, blobBytes: total, directSecs, alone, together }
    b.report.add({ fig: '5', what: `3 hosts cold at once vs 1 alone, time (${f1(total / 1e6)} MB, ${ENV.NET_RATE})`, value: tS, unit: 's', baseline: aS, ratio: tS / aS, target: '≤ 1.15', ok: tS / aS <= 1.15,
      detail: `direct without agent ${f1(directSecs)} s; alone/direct ${f2(aS / directSecs)}` })
    b.report.add({ fig: '5', what: '3 hosts cold at once vs 1 alone, upstream bytes', value: tB / 1e6, unit: 'MB', baseline: aB / 1e6, ratio: tB / aB, target: '≤ 1.02', ok: tB / aB <= 1.02,
      detail: `blob bytes ${total}; alone ${aB}, together ${tB}` })
    b.report.add({ fig: '5', what: 'peak RSS of the 3 agents (together)', value: Math.max(...together.flatMap(x => x.rss)), unit: 'MB', target: '< 150', ok: Math.max(...together.flatMap(x => x.rss)) < 150 })
  } finally { await bn.destroy() }
}
