// layerd benchmark: `npm run bench` (= npm run build && node dist/bench/run.js).
//
// Every figure is a RATIO against a baseline measured in the same run (the machines are shared
// and noisy), plus the absolute numbers and the agent's peak RSS (VmHWM of its process).
// Traffic goes only to loopback or to network namespaces made here (10.77.0.x).
//
// Environment:
//   BENCH_BLOB_MB   data size of the big layer in MiB (default 1024; a second layer is 1/4 of it)
//   BENCH_RUNS      repetitions of each cheap measurement, medians are reported (default 3)
//   BENCH_CLIENTS   concurrent HTTP clients for figure 3 (default 8)
//   BENCH_PEERS     concurrent peers for figure 6 (default 4)
//   BENCH_NET_MB    total data of the blobs pulled behind the shaped link in figure 5 (default 128, 2 layers)
//   BENCH_NET_RATE  tbf rate of the shaped upstream link (default 50mbit)
//   BENCH_NET_RUNS  (alone, together) pairs in figure 5 (default 1)
//   BENCH_SKIP      comma list of figures to skip, e.g. "5,6" ("4d": the transport-only probe)
//   BENCH_AGENT_CONFIG  YAML config file given to every agent (--config), for experiments
//   BENCH_CPU_PROF  directory: CPU-profile every agent (bench/cpu-prof.ts), DIR/agent-PID.cpuprofile on stop

import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { buildImage, pushImage, blobPath, type BuiltImage, type LayerInfo } from '../test/helpers/images.js'
import { startRegistry, type Registry } from '../test/helpers/registry.js'
import { startAgent, REPO_ROOT, type Agent } from '../test/helpers/agent.js'
import { startProxy } from '../test/helpers/proxy.js'
import { createNetwork, type NetHost, type TestNetwork } from '../test/helpers/netns.js'
import { makeTempDir, removeTempDir, run, spawnTracked, killAndWait, stopAll, waitFor, type Tracked } from '../test/helpers/proc.js'
import { MiB, PeakRss, curlGet, getSha256, getJson, median, mbps, memOf, f1, f2 } from './lib.js'

const num = (k: string, d: number): number => { const v = process.env[k]; return v === undefined || v === '' ? d : Number(v) }
const BLOB_MB = num('BENCH_BLOB_MB', 1024)
const RUNS = Math.max(1, num('BENCH_RUNS', 3))
const CLIENTS = num('BENCH_CLIENTS', 8)
const PEERS = num('BENCH_PEERS', 4)
const NET_MB = num('BENCH_NET_MB', 128)
const NET_RATE = process.env.BENCH_NET_RATE ?? '50mbit'
const NET_RUNS = Math.max(1, num('BENCH_NET_RUNS', 1))
const SKIP = new Set((process.env.BENCH_SKIP ?? '').split(',').map(s => s.trim()).filter(s => s !== ''))
const CPU_PROF = process.env.BENCH_CPU_PROF
const UP = 'bench.test'
const NODE = process.execPath
const DIST = join(REPO_ROOT, 'dist', 'bench')

const T0 = performance.now()
const say = (s: string): void => { console.log(`[bench ${((performance.now() - T0) / 1000).toFixed(0).padStart(4)}s] ${s}`) }

interface Row {
  fig: string
  what: string
  value: number
  unit: string
  baseline?: number
  ratio?: number
  target?: string
  ok?: boolean
  detail?: string
}
const rows: Row[] = []
const raw: Record<string, unknown> = {}
const add = (r: Row): void => { rows.push(r); say(`  → ${r.fig} ${r.what}: ${f1(r.value)} ${r.unit}${r.ratio !== undefined ? ` (ratio ${f2(r.ratio)}${r.target !== undefined ? `, target ${r.target}` : ''})` : ''}`) }

// `--cpu-prof` is not allowed in NODE_OPTIONS: preload bench/cpu-prof.ts instead.
const agentEnv: Record<string, string> = CPU_PROF !== undefined && CPU_PROF !== ''
  ? (mkdirSync(CPU_PROF, { recursive: true }), { NODE_OPTIONS: `--import=${pathToFileURL(join(DIST, 'cpu-prof.js')).href}`, BENCH_CPU_PROF: CPU_PROF })
  : {}

const blobUrl = (base: string, repo: string, digest: string): string => `${base}/v2/${repo}/blobs/${digest}`

const AGENT_CONFIG = process.env.BENCH_AGENT_CONFIG
const configArgs = AGENT_CONFIG !== undefined && AGENT_CONFIG !== '' ? ['--config', AGENT_CONFIG] : []

async function localAgent (upstream: string, extra: string[] = []): Promise<Agent> {
  return await startAgent({ upstreams: { [UP]: upstream }, extraArgs: [...configArgs, ...extra], env: agentEnv, readyTimeoutMs: 30_000 })
}

function p2pAddr (a: Agent): string {
  const l = a.logLines().find(x => x.msg === 'p2p started')
  const addrs = (l?.addresses ?? []) as string[]
  const addr = addrs.find(x => x.includes('/127.0.0.1/')) ?? addrs[0]
  if (addr === undefined) throw new Error(`agent ${a.url}: no p2p address in its log`)
  return addr
}

interface PeersReply { peers: Array<{ peerId: string, blobs: number, completeBlobs: number, bytes: number }> }

/** Wait until `a` sees `count` connected peers, each announcing at least `complete` complete blobs. */
async function waitPeers (get: () => Promise<PeersReply>, count: number, complete: number, what: string): Promise<void> {
  await waitFor(async () => {
    const r = await get()
    return r.peers.length >= count && r.peers.filter(p => p.completeBlobs >= complete).length >= count
  }, { timeoutMs: 40_000, intervalMs: 100, what })
}

function must (cond: boolean, msg: string): void { if (!cond) throw new Error(msg) }
const hexOf = (digest: string): string => digest.slice('sha256:'.length)

// ------------------------------------------------------------------------------------------------

async function main (): Promise<void> {
  say(`BENCH_BLOB_MB=${BLOB_MB} RUNS=${RUNS} CLIENTS=${CLIENTS} PEERS=${PEERS} NET_MB=${NET_MB} NET_RATE=${NET_RATE} skip=[${[...SKIP].join(',')}]`)
  const bigMiB = BLOB_MB
  const quarterMiB = Math.max(1, Math.round(BLOB_MB / 4))
  const img = await buildImage({
    name: 'bench/big', tag: 'v1', seed: 'bench',
    layers: [{ size: bigMiB * MiB, seed: `bench-big-${bigMiB}` }, { size: quarterMiB * MiB, seed: `bench-quarter-${quarterMiB}` }],
  })
  say(`image bench/big ${img.fromCache ? 'from fixture cache' : `built in ${(img.buildMs / 1000).toFixed(0)} s`}`)
  const big = img.layers[0] as LayerInfo
  const quarter = img.layers[1] as LayerInfo
  const netMiB = Math.max(2, NET_MB)
  const netImg = SKIP.has('5')
    ? undefined
    : await buildImage({
      name: 'bench/net', tag: 'v1', seed: 'bench-net',
      layers: [{ size: Math.floor(netMiB / 2) * MiB, seed: `bench-net-a-${netMiB}` }, { size: Math.ceil(netMiB / 2) * MiB, seed: `bench-net-b-${netMiB}` }],
    })

  const registry = await startRegistry()
  let t = performance.now()
  await pushImage(img, registry.host, 'bench/big', 'v1')
  if (netImg !== undefined) await pushImage(netImg, registry.host, 'bench/net', 'v1')
  say(`pushed to docker-registry ${registry.url} in ${((performance.now() - t) / 1000).toFixed(1)} s`)
  const reg = (l: LayerInfo): string => blobUrl(registry.url, 'bench/big', l.digest)
  const via = (a: Agent, l: LayerInfo): string => blobUrl(a.url, 'bench/big', l.digest)
  raw.sizes = { bigBytes: big.size, quarterBytes: quarter.size }

  // Warm the registry's files into the page cache (both sides then serve from memory).
  await curlGet(reg(big)); await curlGet(reg(quarter))

  // ---------------------------------------------------------------- 2. cold pull
  // Alternating: straight from the registry vs through a fresh agent (empty store). The last
  // agent is kept: it holds the blob complete for figures 1, 3, 4, 6.
  let A: Agent | undefined
  {
    const direct: number[] = []
    const agent: number[] = []
    const rss: number[] = []
    const idle: number[] = []
    for (let i = 0; i < RUNS; i++) {
      for (const which of i % 2 === 0 ? ['direct', 'agent'] : ['agent', 'direct']) {
        if (which === 'direct') {
          const r = await curlGet(reg(big))
          must(r.bytes === big.size, 'registry: short body')
          direct.push(r.secs)
        } else {
          const a = await localAgent(registry.url)
          idle.push(memOf(a.pid).rssMB)
          const peak = new PeakRss(a.pid)
          const r = await curlGet(via(a, big))
          rss.push(peak.stop())
          must(r.bytes === big.size, 'agent cold: short body')
          agent.push(r.secs)
          if (i === RUNS - 1) A = a
          else await a.stop()
        }
      }
    }
    raw.coldPull = { directSecs: direct, agentSecs: agent, agentPeakRssMB: rss }
    const d = median(direct); const a = median(agent)
    add({ fig: '2', what: 'cold pull time via agent (empty store)', value: a, unit: 's', baseline: d, ratio: a / d, target: '≤ 1.10', ok: a / d <= 1.10,
      detail: `agent ${f1(mbps(big.size, a))} MB/s vs registry ${f1(mbps(big.size, d))} MB/s; runs agent [${agent.map(f2).join(' ')}] registry [${direct.map(f2).join(' ')}]` })
    add({ fig: '2', what: 'peak RSS agent during cold pull', value: median(rss), unit: 'MB', detail: `runs [${rss.map(f1).join(' ')}]` })
    add({ fig: '-', what: 'RSS of an idle agent just started (reference for the RSS rows)', value: median(idle), unit: 'MB', detail: `runs [${idle.map(f1).join(' ')}]` })
  }
  const agentA = A as Agent
  // Verify A's copy, and fill it with the quarter blob too.
  {
    const v = await getSha256(via(agentA, big))
    must(v.sha256 === hexOf(big.digest), `agent A: big blob sha256 mismatch ${v.sha256}`)
    await curlGet(via(agentA, quarter))
    const q = await getSha256(via(agentA, quarter))
    must(q.sha256 === hexOf(quarter.digest), 'agent A: quarter blob sha256 mismatch')
  }

  // ---------------------------------------------------------------- 1 + 3. cache hit, RSS one client
  if (!SKIP.has('1')) {
    for (const [label, l] of [['full', big], ['1/4', quarter]] as const) {
      const regS: number[] = []
      const agS: number[] = []
      const rss: number[] = []
      for (let i = 0; i < RUNS; i++) {
        for (const which of i % 2 === 0 ? ['registry', 'agent'] : ['agent', 'registry']) {
          if (which === 'registry') {
            regS.push((await curlGet(reg(l))).secs)
          } else {
            const peak = new PeakRss(agentA.pid)
            const r = await curlGet(via(agentA, l))
            rss.push(peak.stop())
            must(r.bytes === l.size, 'agent hit: short body')
            agS.push(r.secs)
          }
        }
      }
      const ra = mbps(l.size, median(agS)); const rr = mbps(l.size, median(regS))
      raw[`cacheHit_${label}`] = { agentSecs: agS, registrySecs: regS, agentPeakRssMB: rss }
      add({ fig: '1', what: `cache hit throughput agent/registry (${label}, ${f1(l.size / 1e6)} MB)`, value: ra, unit: 'MB/s', baseline: rr, ratio: ra / rr, target: label === 'full' ? '≥ 1.0' : undefined, ok: label === 'full' ? ra / rr >= 1.0 : undefined,
        detail: `runs agent [${agS.map(f2).join(' ')}] s, registry [${regS.map(f2).join(' ')}] s` })
      add({ fig: '3', what: `peak RSS agent, 1 client, ${label} blob`, value: median(rss), unit: 'MB', target: '< 150', ok: Math.max(...rss) < 150, detail: `runs [${rss.map(f1).join(' ')}]` })
    }
  }

  // ---------------------------------------------------------------- 3. RSS with N concurrent clients
  if (!SKIP.has('3')) {
    const rssBy: Record<string, number> = {}
    for (const [label, l] of [['full', big], ['1/4', quarter]] as const) {
      const peak = new PeakRss(agentA.pid)
      let t0 = performance.now()
      const rs = await Promise.all(Array.from({ length: CLIENTS }, async () => await curlGet(via(agentA, l))))
      const agWall = (performance.now() - t0) / 1000
      const rss = peak.stop()
      must(rs.every(r => r.bytes === l.size), 'agent concurrent: short body')
      t0 = performance.now()
      await Promise.all(Array.from({ length: CLIENTS }, async () => await curlGet(reg(l))))
      const regWall = (performance.now() - t0) / 1000
      rssBy[label] = rss
      const agg = mbps(l.size * CLIENTS, agWall); const aggR = mbps(l.size * CLIENTS, regWall)
      raw[`concurrent_${label}`] = { clients: CLIENTS, agentWallSecs: agWall, registryWallSecs: regWall, agentPeakRssMB: rss }
      add({ fig: '3', what: `peak RSS agent, ${CLIENTS} clients, ${label} blob`, value: rss, unit: 'MB', target: '< 150', ok: rss < 150,
        detail: `aggregate agent ${f1(agg)} MB/s vs registry ${f1(aggR)} MB/s (ratio ${f2(agg / aggR)})` })
    }
    const full = rssBy.full as number; const q = rssBy['1/4'] as number
    add({ fig: '3', what: `RSS flatness: ${CLIENTS} clients full / 1/4 size`, value: full / q, unit: 'x', target: '≈ 1 (flat)', ok: full / q < 1.25 })
  }

  // ---------------------------------------------------------------- 4. peer range transfer
  const upProxy = await startProxy(registry.url)
  const addrA = p2pAddr(agentA)
  const startB = async (): Promise<Agent> => await localAgent(upProxy.url, ['--peer', addrA])
  const waitB = async (b: Agent): Promise<void> => { await waitPeers(async () => await getJson<PeersReply>(`${b.url}/_layerd/peers`), 1, 2, `agent ${b.url} sees A's inventory`) }
  let peerSingleMBs = NaN
  if (!SKIP.has('4')) {
    const sender = spawnTracked(NODE, [join(DIST, 'tcp-xfer.js'), 'send', blobPath(img.layoutDir, big.digest)], { name: 'tcp-send', stdio: ['pipe', 'pipe', 'pipe'] })
    let tcpPort = 0
    try {
      tcpPort = (JSON.parse(await sender.waitForLine(l => l.startsWith('{"port"'), 10_000)) as { port: number }).port
      const tcp: number[] = []
      const peer: number[] = []
      const rssB: number[] = []
      const rssA: number[] = []
      for (let i = 0; i < RUNS; i++) {
        for (const which of i % 2 === 0 ? ['tcp', 'peer'] : ['peer', 'tcp']) {
          if (which === 'tcp') {
            const r = await run(NODE, [join(DIST, 'tcp-xfer.js'), 'recv', String(tcpPort), String(big.size)], { timeoutMs: 300_000 })
            const j = JSON.parse(r.stdout.trim()) as { bytes: number, sha256: string, ms: number }
            must(j.bytes === big.size && j.sha256 === hexOf(big.digest), `tcp baseline: bad transfer ${r.stdout} ${r.stderr}`)
            tcp.push(j.ms / 1000)
          } else {
            const b = await startB()
            try {
              await waitB(b)
              upProxy.reset()
              const pa = new PeakRss(agentA.pid); const pb = new PeakRss(b.pid)
              const r = await curlGet(via(b, big))
              rssA.push(pa.stop()); rssB.push(pb.stop())
              must(r.bytes === big.size, 'peer transfer: short body')
              const up = upProxy.bytesFor(big.digest)
              must(up === 0, `peer transfer: ${up} bytes of the blob came from upstream`)
              peer.push(r.secs)
              const v = await getSha256(via(b, big))
              must(v.sha256 === hexOf(big.digest), 'peer transfer: sha256 mismatch')
            } finally { await b.stop() }
          }
        }
      }
      const tp = mbps(big.size, median(tcp)); const pp = mbps(big.size, median(peer))
      peerSingleMBs = pp
      raw.peerTransfer = { tcpSecs: tcp, peerSecs: peer, receiverPeakRssMB: rssB, senderPeakRssMB: rssA }
      add({ fig: '4', what: 'peer range transfer (agent←agent, noise+yamux, sha256) vs TCP+sha256', value: pp, unit: 'MB/s', baseline: tp, ratio: pp / tp, target: '≥ 0.8', ok: pp / tp >= 0.8,
        detail: `runs peer [${peer.map(f2).join(' ')}] s, tcp [${tcp.map(f2).join(' ')}] s; upstream bytes 0` })
      add({ fig: '4', what: 'peak RSS receiving agent / sending agent', value: median(rssB), unit: 'MB', detail: `sender (A) ${f1(median(rssA))} MB` })
    } finally {
      sender.child.stdin?.end()
      await killAndWait(sender, { timeoutMs: 5000 })
    }
  }

  // Diagnostic for figure 4: the transport alone (two bare peer networks, no agent, no disk), with
  // the agent's request pattern (4 MiB pieces, 2 in flight) and with one stream for everything.
  if (!SKIP.has('4') && !SKIP.has('4d')) {
    const mib = Math.min(256, BLOB_MB)
    const r = await run(NODE, [join(DIST, 'p2p-probe.js'), String(mib), String(RUNS)], { timeoutMs: 300_000, env: { ...process.env, P2P_PROBE_JSON: '1' } })
    const line = r.stdout.split('\n').find(l => l.startsWith('P2P_PROBE '))
    if (line === undefined) {
      say(`p2p probe failed: ${r.stderr.slice(-500)}`)
    } else {
      const res = JSON.parse(line.slice('P2P_PROBE '.length)) as Record<string, number>
      raw.p2pProbe = { mib, mbps: res }
      const entries = Object.entries(res)
      const pattern = entries.find(([k]) => k.includes('agent default'))
      add({ fig: '4d', what: `transport alone, agent's piece pattern (${mib} MiB, no agent, no disk)`, value: pattern?.[1] ?? NaN, unit: 'MB/s',
        ...(Number.isFinite(peerSingleMBs) && pattern !== undefined ? { detail: `agent reached ${f2(peerSingleMBs / pattern[1])} of it; ${entries.map(([k, v]) => `${k}: ${f1(v)}`).join('; ')}` } : { detail: entries.map(([k, v]) => `${k}: ${f1(v)}`).join('; ') }) })
    }
  }

  // ---------------------------------------------------------------- 6. one agent serving N peers
  if (!SKIP.has('6')) {
    const bs = await Promise.all(Array.from({ length: PEERS }, startB))
    try {
      await Promise.all(bs.map(waitB))
      upProxy.reset()
      const peak = new PeakRss(agentA.pid)
      const t0 = performance.now()
      const rs = await Promise.all(bs.map(async b => await curlGet(via(b, big))))
      const wall = (performance.now() - t0) / 1000
      const rss = peak.stop()
      must(rs.every(r => r.bytes === big.size), 'N peers: short body')
      must(upProxy.bytesFor(big.digest) === 0, 'N peers: bytes came from upstream')
      for (const b of bs) {
        const v = await getSha256(via(b, big))
        must(v.sha256 === hexOf(big.digest), 'N peers: sha256 mismatch')
      }
      const agg = mbps(big.size * PEERS, wall)
      raw.servePeers = { peers: PEERS, wallSecs: wall, perClientSecs: rs.map(r => r.secs), servingPeakRssMB: rss, receiverPeakRssMB: bs.map(b => memOf(b.pid).hwmMB) }
      add({ fig: '6', what: `peak RSS agent serving ${PEERS} peers at once`, value: rss, unit: 'MB', target: '< 150', ok: rss < 150,
        detail: `aggregate ${f1(agg)} MB/s over ${PEERS} peers in ${f1(wall)} s${Number.isFinite(peerSingleMBs) ? ` (${f2(agg / peerSingleMBs)}x one peer)` : ''}; receivers' peak RSS [${bs.map(b => f1(memOf(b.pid).hwmMB)).join(' ')}] MB` })
    } finally { for (const b of bs) await b.stop() }
  }
  await upProxy.stop()
  await agentA.stop()

  // ---------------------------------------------------------------- 5. three hosts cold at once
  if (netImg !== undefined) await figure5(registry, netImg)
  await registry.stop()
}

// ------------------------------------------------------------------------------------------------
// Figure 5: namespaces. h1 = docker-registry (same storage, read-only use) + counting proxy on
// 10.77.0.1:5000, its egress shaped by tbf; h2..h4 = agents with static peers (no mDNS) and their
// curl clients. "alone": only h2 pulls (h3, h4 up, idle); "together": h2, h3, h4 at once.

async function figure5 (registry: Registry, netImg: BuiltImage): Promise<void> {
  const net: TestNetwork = await createNetwork({ hosts: 4 })
  const dir = makeTempDir('bench-ns')
  const agents: Agent[] = []
  let px: Tracked | undefined
  try {
    const h1 = net.hosts[0] as NetHost
    const cfg = join(dir, 'registry.yml')
    writeFileSync(cfg, JSON.stringify({
      version: 0.1,
      log: { level: 'warn', accesslog: { disabled: true } },
      storage: { filesystem: { rootdirectory: registry.dataDir }, maintenance: { uploadpurging: { enabled: false } } },
      http: { addr: '127.0.0.1:5001', secret: 'bench' },
    }))
    net.spawn(h1, 'docker-registry', ['serve', cfg], { name: 'registry@h1' })
    await waitFor(async () => {
      const r = await net.run(h1, 'curl', ['-s', '--noproxy', '*', '-o', '/dev/null', '-w', '%{http_code}', 'http://127.0.0.1:5001/v2/'], { timeoutMs: 5000 })
      return r.stdout.trim() === '200'
    }, { timeoutMs: 15_000, what: 'registry in h1' })
    px = net.spawn(h1, NODE, [join(DIST, 'proxy-main.js'), h1.ip, '5000', 'http://127.0.0.1:5001'], { name: 'proxy@h1', stdio: ['pipe', 'pipe', 'pipe'] })
    await px.waitForLine(l => l.includes('"ready"'), 15_000)
    const proxy = px
    let seq = 0
    const pxCmd = async (cmd: string): Promise<{ totalBytes: number, requests: number, blobGets: number }> => {
      const id = String(++seq)
      proxy.child.stdin?.write(`${cmd} ${id}\n`)
      return JSON.parse(await proxy.waitForLine(l => l.includes(`"id":"${id}"`), 10_000))
    }
    await net.shape(h1, { rate: NET_RATE })
    const upstreamUrl = `http://${h1.ip}:5000`
    const blobs = netImg.layers
    const total = blobs.reduce((s, l) => s + l.size, 0)
    const pullers = net.hosts.slice(1)

    const metricsOf = async (h: NetHost): Promise<Record<string, number>> => {
      const r = await net.run(h, 'curl', ['-s', '--noproxy', '*', `http://${h.ip}:5000/metrics`], { timeoutMs: 5000 })
      const out: Record<string, number> = {}
      for (const line of r.stdout.split('\n')) {
        const m = /^(layerd_[a-z_]+)(\{[^}]*\})?\s+(\S+)$/.exec(line)
        if (m !== null) out[`${m[1]}${m[2] ?? ''}`] = (out[`${m[1]}${m[2] ?? ''}`] ?? 0) + Number(m[3])
      }
      return out
    }
    const pull = async (h: NetHost, base: string): Promise<number> => {
      const t0 = performance.now()
      const rs = await Promise.all(blobs.map(async l => await curlGet(blobUrl(base, 'bench/net', l.digest), { netns: h.ns, timeoutMs: 600_000 })))
      must(rs.every((r, i) => r.bytes === blobs[i]?.size), `${h.ns}: short body`)
      return (performance.now() - t0) / 1000
    }
    const verify = async (h: NetHost): Promise<void> => {
      for (const l of blobs) {
        const r = await net.run(h, 'sh', ['-c', `curl -s --noproxy '*' ${blobUrl(`http://${h.ip}:5000`, 'bench/net', l.digest)} | sha256sum`], { timeoutMs: 120_000 })
        must(r.stdout.startsWith(hexOf(l.digest)), `${h.ns}: sha256 mismatch for ${l.digest}`)
      }
    }
    const startAgents = async (): Promise<Agent[]> => {
      const as = await Promise.all(pullers.map(async h => await startAgent({
        netns: h.ns, listenHost: h.ip, port: 5000, upstreams: { [UP]: upstreamUrl }, env: agentEnv, readyTimeoutMs: 30_000,
        extraArgs: [...configArgs, '--p2p-listen', `/ip4/${h.ip}/tcp/4050`, ...pullers.filter(o => o !== h).flatMap(o => ['--peer', `/ip4/${o.ip}/tcp/4050`])],
      })))
      agents.push(...as)
      // /_layerd/ answers loopback clients only and the agents listen on 10.77.0.x: use /metrics.
      await Promise.all(pullers.map(async h => {
        await waitFor(async () => {
          const m = await metricsOf(h)
          return (m.layerd_peers_connected ?? 0) >= pullers.length - 1
        }, { timeoutMs: 40_000, intervalMs: 200, what: `${h.ns} connected to its peers` })
      }))
      return as
    }
    const stopAgents = async (as: Agent[]): Promise<void> => {
      for (const a of as) { await a.stop(); agents.splice(agents.indexOf(a), 1) }
    }

    // Link baseline: h2 straight from the proxy, no agent.
    await pxCmd('reset')
    const directSecs = await pull(pullers[0] as NetHost, upstreamUrl)
    const directStats = await pxCmd('stats')
    say(`  shaped link direct: ${f1(directSecs)} s, ${f1(mbps(total, directSecs) * 8)} Mbit/s, proxy bytes ${directStats.totalBytes}`)

    const alone: Array<{ secs: number, bytes: number }> = []
    const together: Array<{ secs: number, perHost: number[], bytes: number, rss: number[], bySource: Array<{ upstream: number, peer: number }> }> = []
    for (let i = 0; i < NET_RUNS; i++) {
      for (const which of i % 2 === 0 ? ['alone', 'together'] : ['together', 'alone']) {
        const as = await startAgents()
        try {
          await pxCmd('reset')
          if (which === 'alone') {
            const secs = await pull(pullers[0] as NetHost, (as[0] as Agent).url)
            const st = await pxCmd('stats')
            await verify(pullers[0] as NetHost)
            alone.push({ secs, bytes: st.totalBytes })
            say(`  alone: ${f1(secs)} s, upstream ${st.totalBytes} bytes (${st.blobGets} blob GETs)`)
          } else {
            const t0 = performance.now()
            const perHost = await Promise.all(pullers.map(async (h, k) => await pull(h, (as[k] as Agent).url)))
            const secs = (performance.now() - t0) / 1000
            const st = await pxCmd('stats')
            for (const h of pullers) await verify(h)
            const rss = as.map(a => memOf(a.pid).hwmMB)
            const src = await Promise.all(pullers.map(async h => {
              const m = await metricsOf(h)
              return { upstream: m['layerd_bytes_by_source_total{source="upstream"}'] ?? 0, peer: m['layerd_bytes_by_source_total{source="peer"}'] ?? 0 }
            }))
            together.push({ secs, perHost, bytes: st.totalBytes, rss, bySource: src })
            say(`  together: ${f1(secs)} s [${perHost.map(f1).join(' ')}], upstream ${st.totalBytes} bytes (${st.blobGets} blob GETs), RSS [${rss.map(f1).join(' ')}] MB, MB from upstream/peers per host [${src.map(x => `${f1(x.upstream / 1e6)}/${f1(x.peer / 1e6)}`).join(' ')}]`)
          }
        } finally { await stopAgents(as) }
      }
    }
    const aS = median(alone.map(x => x.secs)); const tS = median(together.map(x => x.secs))
    const aB = median(alone.map(x => x.bytes)); const tB = median(together.map(x => x.bytes))
    raw.threeHosts = { rate: NET_RATE, blobBytes: total, direct: { secs: directSecs, bytes: directStats.totalBytes }, alone, together }
    add({ fig: '5', what: `3 hosts cold at once vs 1 alone, time (${f1(total / 1e6)} MB, ${NET_RATE})`, value: tS, unit: 's', baseline: aS, ratio: tS / aS, target: '≤ 1.15', ok: tS / aS <= 1.15,
      detail: `direct without agent ${f1(directSecs)} s (${f1(mbps(total, directSecs) * 8)} Mbit/s); alone/direct ${f2(aS / directSecs)}` })
    add({ fig: '5', what: '3 hosts cold at once vs 1 alone, upstream bytes', value: tB / 1e6, unit: 'MB', baseline: aB / 1e6, ratio: tB / aB, target: '≤ 1.02', ok: tB / aB <= 1.02,
      detail: `blob bytes ${total}; alone ${aB}, together ${tB}` })
    add({ fig: '5', what: 'peak RSS of the 3 agents (together)', value: Math.max(...together.flatMap(x => x.rss)), unit: 'MB' })
  } finally {
    for (const a of [...agents]) await a.stop().catch(() => {})
    px?.child.stdin?.end()
    await net.destroy()
    removeTempDir(dir)
  }
}

// ------------------------------------------------------------------------------------------------

function report (error?: unknown): void {
  const line = '-'.repeat(150)
  console.log(`\n${line}\nlayerd bench — BENCH_BLOB_MB=${BLOB_MB} (big ${f1(((raw.sizes as { bigBytes?: number } | undefined)?.bigBytes ?? NaN) / 1e6)} MB), runs=${RUNS}, ${new Date().toISOString()}\n${line}`)
  console.log(`${'fig'.padEnd(4)}${'measure'.padEnd(72)}${'value'.padStart(10)} ${'unit'.padEnd(5)}${'baseline'.padStart(10)}${'ratio'.padStart(8)}  ${'target'.padEnd(11)}ok`)
  for (const r of rows) {
    const ok = r.ok === undefined ? '' : r.ok ? 'yes' : 'NO'
    console.log(`${r.fig.padEnd(4)}${r.what.slice(0, 71).padEnd(72)}${f1(r.value).padStart(10)} ${r.unit.padEnd(5)}${(r.baseline !== undefined ? f1(r.baseline) : '').padStart(10)}${(r.ratio !== undefined ? f2(r.ratio) : '').padStart(8)}  ${(r.target ?? '').padEnd(11)}${ok}`)
    if (r.detail !== undefined) console.log(`    ${r.detail}`)
  }
  if (error !== undefined) console.log(`\nERROR: ${error instanceof Error ? error.stack ?? error.message : String(error)}`)
  console.log(line)
  const out = join(REPO_ROOT, 'bench', 'results')
  mkdirSync(out, { recursive: true })
  writeFileSync(join(out, 'latest.json'), JSON.stringify({
    date: new Date().toISOString(),
    env: { BENCH_AGENT_CONFIG: AGENT_CONFIG, BENCH_BLOB_MB: BLOB_MB, BENCH_RUNS: RUNS, BENCH_CLIENTS: CLIENTS, BENCH_PEERS: PEERS, BENCH_NET_MB: NET_MB, BENCH_NET_RATE: NET_RATE, BENCH_NET_RUNS: NET_RUNS, skip: [...SKIP] },
    totalSecs: (performance.now() - T0) / 1000,
    rows,
    raw,
    ...(error !== undefined ? { error: String(error) } : {}),
  }, null, 2) + '\n')
  console.log(`wrote ${join(out, 'latest.json')} (${((performance.now() - T0) / 1000).toFixed(0)} s total)`)
}

let failure: unknown
try {
  await main()
} catch (err) {
  failure = err
} finally {
  await stopAll().catch(err => { console.error('cleanup:', err) })
}
report(failure)
process.exit(failure === undefined ? 0 : 1)
