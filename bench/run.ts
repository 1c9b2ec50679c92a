// layerd benchmark: `npm run bench` (= npm run build && node dist/bench/run.js).
//
// Every figure is a RATIO against a baseline measured in the same run (the machines are shared
// and noisy), with the agents' CPU seconds per GB and peak RSS (VmHWM). Traffic goes only to
// loopback or to network namespaces made here (10.77.0.x).
//
//   fig 1   cache hit, agent vs docker-registry serving the same blob
//   fig 2   cold pull via a fresh agent vs straight from docker-registry (loopback)
//   fig 3   peak RSS with 1 and CLIENTS concurrent clients, and its flatness in blob size
//   fig 4   peer transfer to a client (agent ← agent) vs plain TCP + sha256, loopback
//   fig 4d  the peer transport alone (diagnostic)
//   fig 5   3 hosts pulling cold at once behind a shaped link vs 1 alone: time and upstream bytes
//   fig 6   one agent serving PEERS peers at once: peak RSS
//   fig 7   cold pull of many small layers with a neighbour vs alone (namespaces, skopeo)
//   fig 8   client ← agent ← neighbour vs plain HTTP over the same bridge (namespaces)
//   fig 9   three neighbours capped at CAP_MIBS upload each serve one pull (namespaces)
//   fig 10  cold COLD_MB blob via agent vs the durability floor (curl | dd oflag=dsync)
//   fig 11  idle agents (5, 20, ... on one bridge, mDNS): CPU and traffic in total and per agent;
//           what the office paid to join, and what one more agent joining a settled office costs
//   fig 12  20 agents on one bridge, 8 pull cold at once behind the shaped link vs 1 alone
//   fig 13  two subnets joined by a router, one bootstrap peer: a pull on each side, upstream bytes
//
// Environment:
//   BENCH_BLOB_MB   big layer in MiB (default 1024; a second layer is 1/4 of it): figs 1–4, 6
//   BENCH_COLD_MB   blob of figs 8 and 10 in MiB (default 300)
//   BENCH_RUNS      repetitions, medians reported (default 3)
//   BENCH_CLIENTS   concurrent HTTP clients for fig 3 (default 8)
//   BENCH_PEERS     concurrent peers for fig 6 (default 4)
//   BENCH_NET_MB / BENCH_NET_RATE / BENCH_NET_RUNS   figs 5, 12, 13: data (128), link (50mbit), pairs (1, fig 5)
//   BENCH_SMALL_LAYERS / BENCH_SMALL_KB   fig 7 image (30 layers of 1024 KiB)
//   BENCH_CAP_MIBS / BENCH_CAP_MB   fig 9: upload cap per neighbour (8) and blob (96)
//   BENCH_IDLE_SIZES / BENCH_IDLE_MS   fig 11: office sizes (5,20; e.g. 5,20,100) and measuring time (30 s)
//   BENCH_IDLE_SETTLE_MS               fig 11: wait after the office is meshed, before measuring (20 s)
//   BENCH_ONLY / BENCH_SKIP   comma lists of figures, e.g. BENCH_ONLY=7,8 or BENCH_SKIP=5,6
//   BENCH_AGENT_CONFIG  YAML config given to every agent (--config), for experiments
//   BENCH_CPU_PROF  directory: profile every agent there (BENCH_PROF=cpu,gc: see bench/cpu-prof.ts)

import { buildImage, pushImage, type BuiltImage, type LayerInfo } from '../test/helpers/images.js'
import { startRegistry } from '../test/helpers/registry.js'
import { stopAll } from '../test/helpers/proc.js'
import { blobUrl, ENV, REPO_ROOT, wanted, type Bench } from './context.js'
import { cacheHits, coldPull, durabilityFloor } from './figures/local.js'
import { idleAgents } from './figures/idle.js'
import { cappedNeighbours, peerPath, smallLayers, threeHosts } from './figures/office.js'
import { twentyAgents, twoSubnets } from './figures/scale.js'
import { peerFigures } from './figures/peer.js'
import { curlGet, MiB } from './lib.js'
import { Report } from './report.js'

const report = new Report()

async function image (name: string, layers: Array<{ size: number, seed: string }>, when: boolean): Promise<BuiltImage | undefined> {
  if (!when) return undefined
  const img = await buildImage({ name, tag: 'v1', seed: name, layers })
  report.say(`image ${name} ${img.fromCache ? 'from fixture cache' : `built in ${(img.buildMs / 1000).toFixed(0)} s`}`)
  return img
}

async function main (): Promise<void> {
  report.say(`env ${JSON.stringify({ ...ENV, SKIP: [...ENV.SKIP], ONLY: [...ENV.ONLY] })}`)
  const quarterMiB = Math.max(1, Math.round(ENV.BLOB_MB / 4))
  const loopback = ['1', '2', '3', '4', '4d', '6'].some(wanted)
  const big = await buildImage({
    name: 'bench/big', tag: 'v1', seed: 'bench',
    layers: [{ size: (loopback ? ENV.BLOB_MB : 1) * MiB, seed: `bench-big-${loopback ? ENV.BLOB_MB : 1}` }, { size: (loopback ? quarterMiB : 1) * MiB, seed: `bench-quarter-${loopback ? quarterMiB : 1}` }]
  })
  const netMiB = Math.max(2, ENV.NET_MB)
  const net = await image('bench/net', [{ size: Math.floor(netMiB / 2) * MiB, seed: `bench-net-a-${netMiB}` }, { size: Math.ceil(netMiB / 2) * MiB, seed: `bench-net-b-${netMiB}` }], wanted('5') || wanted('13'))
  // Fig. 12: two images of one realistic shape (a big layer, smaller ones), for "alone" and "together".
  const shape = [0.5, 0.25, 0.15, 0.07, 0.03].map(f => Math.max(1, Math.round(netMiB * f)))
  const twentyA = await image('bench/twenty-a', shape.map((m, i) => ({ size: m * MiB, seed: `bench-twenty-a-${m}-${i}` })), wanted('12'))
  const twentyB = await image('bench/twenty-b', shape.map((m, i) => ({ size: m * MiB, seed: `bench-twenty-b-${m}-${i}` })), wanted('12'))
  const cold = await image('bench/cold', [{ size: ENV.COLD_MB * MiB, seed: `bench-cold-${ENV.COLD_MB}` }], wanted('8') || wanted('10'))
  const small = await image('bench/small', Array.from({ length: ENV.SMALL_LAYERS }, (_, i) => ({ size: ENV.SMALL_KB * 1024, seed: `bench-small-${ENV.SMALL_KB}-${i}` })), wanted('7'))
  const capped = await image('bench/capped', [{ size: ENV.CAP_MB * MiB, seed: `bench-capped-${ENV.CAP_MB}` }], wanted('9'))

  const registry = await startRegistry()
  try {
    const t = performance.now()
    await pushImage(big, registry.host, 'bench/big', 'v1')
    for (const [img, repo] of [[net, 'bench/net'], [cold, 'bench/cold'], [small, 'bench/small'], [capped, 'bench/capped'], [twentyA, 'bench/twenty-a'], [twentyB, 'bench/twenty-b']] as const) {
      if (img !== undefined) await pushImage(img, registry.host, repo, 'v1')
    }
    report.say(`pushed to docker-registry ${registry.url} in ${((performance.now() - t) / 1000).toFixed(1)} s`)
    const b: Bench = { report, registry, big }
    report.raw.sizes = { bigBytes: (big.layers[0] as LayerInfo).size }

    if (loopback) {
      // Warm the registry's files into the page cache (both sides then serve from memory).
      for (const l of big.layers) await curlGet(blobUrl(registry.url, 'bench/big', l.digest))
      const agentA = await coldPull(b)
      try {
        await cacheHits(b, agentA)
        await peerFigures(b, agentA)
      } finally { await agentA.stop() }
    }
    if (cold !== undefined) {
      await curlGet(blobUrl(registry.url, 'bench/cold', (cold.layers[0] as LayerInfo).digest))
      await durabilityFloor(b, cold.layers[0] as LayerInfo, 'bench/cold')
      await peerPath(b, cold)
    }
    if (small !== undefined) await smallLayers(b, small)
    if (capped !== undefined) await cappedNeighbours(b, capped)
    if (net !== undefined) await threeHosts(b, net)
    await idleAgents(b)
    if (twentyA !== undefined && twentyB !== undefined) await twentyAgents(b, twentyA, twentyB)
    if (net !== undefined) await twoSubnets(b, net)
  } finally { await registry.stop() }
}

let failure: unknown
try {
  await main()
} catch (err) {
  failure = err
} finally {
  await stopAll().catch(err => { console.error('cleanup:', err) })
}
report.print(`layerd bench — BENCH_BLOB_MB=${ENV.BLOB_MB}, BENCH_COLD_MB=${ENV.COLD_MB}, runs=${ENV.RUNS}`, { ...ENV, SKIP: [...ENV.SKIP], ONLY: [...ENV.ONLY] }, REPO_ROOT, failure)
process.exit(failure === undefined ? 0 : 1)
