// Offices beyond a few hosts (namespaces, bench/net.ts): twenty agents on one bridge found by
// mDNS, eight pulling the same image cold at once behind the shaped link, vs one pulling alone
// (fig. 12); two subnets joined by a router, every agent given one bootstrap peer, a pull on
// each side one after the other (fig. 13).

import type { BuiltImage } from '../../test/helpers/images.js'
import type { NetHost } from '../../test/helpers/netns.js'
import { blobUrl, ENV, wanted, type Bench } from '../context.js'
import { memOf, f1, f2, PeakParts, ThreadCpuMeter } from '../lib.js'
import { startBenchNet, type BenchNet, type NetAgent } from '../net.js'
import { must } from '../report.js'

/** Every layer of `img` (repository `repo`) through the agent on `h`, all at once; seconds. */
async function pullLayers (bn: BenchNet, h: NetHost, base: string, repo: string, img: BuiltImage): Promise<number> {
  const t0 = performance.now()
  const rs = await Promise.all(img.layers.map(async l => await bn.curl(h, blobUrl(base, repo, l.digest))))
  must(rs.every((r, i) => r.bytes === img.layers[i]?.size), `${h.ns}: short body`)
  return (performance.now() - t0) / 1000
}

const layerBytes = (img: BuiltImage): number => img.layers.reduce((s, l) => s + l.size, 0)

/**
 * Fig. 12: 20 agents on one bridge (mDNS, a full mesh: the DHT stays idle on one segment);
 * 8 pull image B cold at the same moment behind the shaped link, vs 1 pulling image A (the same
 * shape) alone while the others idle. Target: one copy upstream, ≤ 1.5x the time of one copy.
 */
export async function twentyAgents (b: Bench, imgA: BuiltImage, imgB: BuiltImage): Promise<void> {
  if (!wanted('12')) return
  const n = 20
  const pullers = 8
  const bn = await startBenchNet(b.registry, n + 1)
  try {
    await bn.shape(ENV.NET_RATE)
    const hosts = bn.hosts.slice(1, n + 1)
    const agents: NetAgent[] = []
    // One after another, as workstations come up (twenty at once on two cores measure the start).
    for (const h of hosts) agents.push(await bn.startAgent(h, { mdns: true }))
    await bn.waitAllPeers(agents, 16)
    const total = layerBytes(imgA)
    await bn.reset()
    const directSecs = await pullLayers(bn, hosts[0]!, bn.upstreamUrl, 'bench/twenty-a', imgA)
    await bn.reset()
    const aloneSecs = await pullLayers(bn, hosts[0]!, 'http://127.0.0.1:5000', 'bench/twenty-a', imgA)
    const alone = await bn.stats()
    await bn.reset()
    const group = hosts.slice(1, 1 + pullers)
    const meters = agents.map(a => new ThreadCpuMeter(a.agent.pid))
    // Where each agent's memory is at its highest while the eight pull (the alone pull before
    // counts in the high-water mark too: agent 0).
    const memParts = new PeakParts(agents.map(a => a.agent.pid))
    // The first puller's memory while the eight pull (its /metrics, every 500 ms).
    let sampling = true
    const peaks: Record<string, number> = {}
    const sampler = (async () => {
      while (sampling) {
        try {
          const m = await bn.metrics(agents[1]!)
          for (const k of ['layerd_nodejs_heap_size_total_bytes', 'layerd_nodejs_heap_size_used_bytes', 'layerd_nodejs_external_memory_bytes', 'layerd_process_resident_memory_bytes']) peaks[k] = Math.max(peaks[k] ?? 0, (m[k] ?? 0) / 1e6)
        } catch {}
        await new Promise(resolve => setTimeout(resolve, 500))
      }
    })()
    const t0 = performance.now()
    const wall0 = Date.now()
    const each = await Promise.all(group.map(async h => await pullLayers(bn, h, 'http://127.0.0.1:5000', 'bench/twenty-b', imgB)))
    const togetherSecs = (performance.now() - t0) / 1000
    // Where the CPU went while the eight pulled: the pullers' threads, and the bystanders'.
    const threads = meters.map(m => m.stop())
    sampling = false; await sampler
    // RSS far above the main isolate's heap and external memory is the workers' isolates, malloc arenas, code.
    b.report.say(`  first puller memory peaks (MB): ${Object.entries(peaks).map(([k, v]) => `${k.replace(/^layerd_(nodejs_|process_)?/, '')} ${f1(v)}`).join(', ')}`)
    b.report.say(`  20 agents together: CPU s per thread of the first puller: ${threads[1] ?? ''}`)
    b.report.say(`  20 agents together: CPU s of a bystander: ${threads[n - 1] ?? ''}`)
    const together = await bn.stats()
    // Which blob went upstream more than once, and by how much: where coalescing lost.
    const log = await bn.log()
    const extra = imgB.layers.map(l => {
      const got = log.filter(r => r.path.endsWith(l.digest)).reduce((s, r) => s + r.bytes, 0)
      return `${f1(l.size / 1e6)}MB:${f2(got / l.size)}x`
    })
    // When the office had its one copy: the rest of the time is spreading it between the eight.
    const upstreamDone = (Math.max(...log.map(r => r.startedAt + r.ms)) - wall0) / 1000
    const hwm = agents.map(a => memOf(a.agent.pid).hwmMB)
    const rss = Math.max(...hwm)
    const largest = hwm.indexOf(rss)
    const atPeak = memParts.stop()
    const role = (i: number): string => i === 0 ? 'the one that pulled alone' : i <= pullers ? 'a puller' : 'a bystander'
    const at = atPeak.get(agents[largest]!.agent.pid)
    b.report.say(`  20 agents: high-water RSS [${hwm.map(f1).join(' ')}] MB; the largest is agent ${largest} (${role(largest)}); its highest sampled while the eight pulled: ${at !== undefined ? `${f1(at.rss)} MB (${at.parts})` : '-'}`)
    const pullerPeak = [...atPeak].filter(([pid]) => group.some((_h, i) => agents[i + 1]!.agent.pid === pid)).sort((x, y) => y[1].rss - x[1].rss)[0]
    if (pullerPeak !== undefined) b.report.say(`  20 agents: the largest puller while pulling: ${f1(pullerPeak[1].rss)} MB (${pullerPeak[1].parts})`)
    // Why agents left a neighbour for another source (the agents' own log lines).
    const failures = new Map<string, number>()
    for (const a of agents) {
      for (const l of a.agent.logLines()) {
        if (l.msg === 'data plane unreachable; using libp2p for this peer') { const k = 'data plane unreachable, libp2p for 60 s'; failures.set(k, (failures.get(k) ?? 0) + 1); continue }
        if (l.msg !== 'peer transfer failed; trying another source') continue
        const k = String(l.err).slice(0, 60)
        failures.set(k, (failures.get(k) ?? 0) + 1)
      }
    }
    // Peer bytes by path: the libp2p range protocol should carry none while every data plane answers.
    const byPath: Record<string, number> = { data: 0, libp2p: 0 }
    for (const a of agents) {
      for (const [k, v] of Object.entries(await bn.metrics(a))) {
        const m = /^layerd_peer_bytes_received_total\{.*path="([a-z0-9]+)"/.exec(k)
        if (m !== null) byPath[m[1]!] = (byPath[m[1]!] ?? 0) + v
      }
    }
    b.report.say(`  20 agents: peer bytes received over the data plane ${f1(byPath.data! / 1e6)} MB, over libp2p ${f1(byPath.libp2p! / 1e6)} MB`)
    if (failures.size > 0) b.report.say(`  20 agents: peer transfers given up: ${[...failures].map(([k, v]) => `${v}× ${k}`).join('; ')}`)
    b.report.say(`  20 agents: direct ${f1(directSecs)} s, one alone ${f1(aloneSecs)} s (${alone.totalBytes} bytes up), 8 at once ${f1(togetherSecs)} s [${each.map(f1).join(' ')}], the last upstream byte at ${f1(upstreamDone)} s (${together.totalBytes} bytes up, ${together.blobGets} blob GETs; per layer ${extra.join(' ')})`)
    b.report.raw.twenty = { total, directSecs, aloneSecs, togetherSecs, each, aloneBytes: alone.totalBytes, togetherBytes: together.totalBytes, rss, upstreamLog: log, peerFailures: Object.fromEntries(failures), peerBytesByPath: byPath }
    b.report.add({ fig: '12', what: `20 agents, 8 pull cold at once vs 1 alone, time (${f1(total / 1e6)} MB, ${ENV.NET_RATE})`, value: togetherSecs, unit: 's', baseline: aloneSecs, ratio: togetherSecs / aloneSecs, target: '≤ 1.5', ok: togetherSecs / aloneSecs <= 1.5,
      detail: `one copy straight over the link ${f1(directSecs)} s (8 at once / that: ${f2(togetherSecs / directSecs)}x)` })
    b.report.add({ fig: '12', what: '20 agents, 8 pull cold at once, upstream bytes vs the image', value: together.totalBytes / 1e6, unit: 'MB', baseline: total / 1e6, ratio: together.totalBytes / total, target: '≤ 1.05', ok: together.totalBytes / total <= 1.05 })
    b.report.add({ fig: '12', what: 'peak RSS of the largest of the 20 agents', value: rss, unit: 'MB', target: '< 200', ok: rss < 200 })
  } finally { await bn.destroy() }
}

/**
 * Fig. 13: two subnets (h2–h4 with the upstream, h5–h7) joined by a router, mDNS on, every agent
 * given only h2 as --peer: h3 pulls, then h6 (across the router), then h7. Upstream must carry
 * one copy; h6's pull through the DHT vs h3's from upstream.
 */
export async function twoSubnets (b: Bench, img: BuiltImage): Promise<void> {
  if (!wanted('13')) return
  const bn = await startBenchNet(b.registry, 7, [4, 3])
  try {
    await bn.shape(ENV.NET_RATE)
    const [h2, h3, h4, h5, h6, h7] = bn.hosts.slice(1) as [NetHost, NetHost, NetHost, NetHost, NetHost, NetHost]
    const first = await bn.startAgent(h2, { mdns: true })
    const rest = await Promise.all([h3, h4, h5, h6, h7].map(async h => await bn.startAgent(h, { mdns: true, peers: [first] })))
    for (const a of rest) await bn.waitPeers(a, 1)
    const total = layerBytes(img)
    await bn.reset()
    const s3 = await pullLayers(bn, h3, 'http://127.0.0.1:5000', 'bench/net', img)
    const s6 = await pullLayers(bn, h6, 'http://127.0.0.1:5000', 'bench/net', img)
    const s7 = await pullLayers(bn, h7, 'http://127.0.0.1:5000', 'bench/net', img)
    const st = await bn.stats()
    void h4; void h5
    b.report.say(`  two subnets: h3 ${f1(s3)} s (upstream), h6 ${f1(s6)} s, h7 ${f1(s7)} s; upstream ${st.totalBytes} bytes for ${total}`)
    b.report.raw.twoSubnets = { total, s3, s6, s7, upstreamBytes: st.totalBytes }
    b.report.add({ fig: '13', what: 'two subnets: h3, then h6 across the router, then h7 pull; upstream bytes vs the image', value: st.totalBytes / 1e6, unit: 'MB', baseline: total / 1e6, ratio: st.totalBytes / total, target: '≤ 1.02', ok: st.totalBytes / total <= 1.02 })
    b.report.add({ fig: '13', what: 'two subnets: h6 (from h3 across the router, found through the DHT) vs h3 (upstream), time', value: s6, unit: 's', baseline: s3, ratio: s6 / s3, target: '≤ 1', ok: s6 <= s3 })
  } finally { await bn.destroy() }
}
