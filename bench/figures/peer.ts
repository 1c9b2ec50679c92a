// Agents on loopback that take a blob from a neighbour: the peer transfer against plain TCP with
// sha256 (fig. 4), the transport alone (fig. 4d) and one agent serving N peers at once (fig. 6).

import { join } from 'node:path'
import { blobPath, type LayerInfo } from '../../test/helpers/images.js'
import { killAndWait, run, spawnTracked, waitFor } from '../../test/helpers/proc.js'
import { startProxy } from '../../test/helpers/proxy.js'
import { blobUrl, DIST, ENV, localAgent, NODE, p2pAddr, wanted, type Agent, type Bench } from '../context.js'
import { CpuMeter, PeakParts, PeakRss, curlGet, getJson, getSha256, median, mbps, memOf, f1, f2, perGB } from '../lib.js'
import { hexOf, must } from '../report.js'

interface PeersReply { peers: Array<{ peerId: string, blobs: number, completeBlobs: number, bytes: number }> }

/** Wait until `url`'s agent sees `count` peers, each announcing at least `complete` complete blobs. */
export async function waitPeers (url: string, count: number, complete: number): Promise<void> {
  await waitFor(async () => {
    const r = await getJson<PeersReply>(`${url}/_layerd/peers`)
    return r.peers.filter(p => p.completeBlobs >= complete).length >= count
  }, { timeoutMs: 40_000, intervalMs: 100, what: `agent ${url} sees ${count} peers with ${complete} blobs` })
}

export async function peerFigures (b: Bench, agentA: Agent): Promise<void> {
  if (!wanted('4') && !wanted('4d') && !wanted('6')) return
  const { report } = b
  const big = b.big.layers[0] as LayerInfo
  const via = (a: Agent): string => blobUrl(a.url, 'bench/big', big.digest)
  const upProxy = await startProxy(b.registry.url)
  const addrA = p2pAddr(agentA)
  const startB = async (): Promise<Agent> => await localAgent(upProxy.url, ['--peer', addrA])
  let peerSingleMBs = NaN
  try {
    if (wanted('4')) {
      const sender = spawnTracked(NODE, [join(DIST, 'tcp-xfer.js'), 'send', blobPath(b.big.layoutDir, big.digest)], { name: 'tcp-send', stdio: ['pipe', 'pipe', 'pipe'] })
      try {
        const tcpPort = (JSON.parse(await sender.waitForLine(l => l.startsWith('{"port"'), 10_000)) as { port: number }).port
        const tcp: number[] = []
        const peer: number[] = []
        const rssB: number[] = []
        const rssA: number[] = []
        const cpu: number[] = []
        for (let i = 0; i < ENV.RUNS; i++) {
          for (const which of i % 2 === 0 ? ['tcp', 'peer'] : ['peer', 'tcp']) {
            if (which === 'tcp') {
              const r = await run(NODE, [join(DIST, 'tcp-xfer.js'), 'recv', String(tcpPort), String(big.size)], { timeoutMs: 300_000 })
              const j = JSON.parse(r.stdout.trim()) as { bytes: number, sha256: string, ms: number }
              must(j.bytes === big.size && j.sha256 === hexOf(big.digest), `tcp baseline: bad transfer ${r.stdout} ${r.stderr}`)
              tcp.push(j.ms / 1000)
            } else {
              const bb = await startB()
              try {
                await waitPeers(bb.url, 1, 2)
                upProxy.reset()
                const pa = new PeakRss(agentA.pid); const pb = new PeakRss(bb.pid)
                const meter = new CpuMeter([agentA.pid, bb.pid])
                const r = await curlGet(via(bb))
                cpu.push(perGB(meter.stop(), big.size))
                rssA.push(pa.stop()); rssB.push(pb.stop())
                must(r.bytes === big.size, 'peer transfer: short body')
                const up = upProxy.bytesFor(big.digest)
                must(up === 0, `peer transfer: ${up} bytes of the blob came from upstream`)
                peer.push(r.secs)
                must((await getSha256(via(bb))).sha256 === hexOf(big.digest), 'peer transfer: sha256 mismatch')
              } finally { await bb.stop() }
            }
          }
        }
        const tp = mbps(big.size, median(tcp)); const pp = mbps(big.size, median(peer))
        peerSingleMBs = pp
        report.raw.peerTransfer = { tcpSecs: tcp, peerSecs: peer, receiverPeakRssMB: rssB, senderPeakRssMB: rssA, cpuPerGB: cpu }
        report.add({ fig: '4', what: 'peer transfer to a client (agent←agent, sha256) vs TCP+sha256, loopback', value: pp, unit: 'MB/s', baseline: tp, ratio: pp / tp, target: '≥ 0.5', ok: pp / tp >= 0.5, cpuPerGB: median(cpu),
          detail: `runs peer [${peer.map(f2).join(' ')}] s, tcp [${tcp.map(f2).join(' ')}] s; upstream bytes 0; CPU of both agents` })
        report.add({ fig: '4', what: 'peak RSS receiving agent / sending agent', value: median(rssB), unit: 'MB', target: '< 150', ok: Math.max(...rssB, ...rssA) < 150, detail: `sender ${f1(median(rssA))} MB` })
      } finally {
        sender.child.stdin?.end()
        await killAndWait(sender, { timeoutMs: 5000 })
      }
    }

    // The transport alone (two bare peer networks, no agent, no disk), with the agent's request
    // pattern and with one stream for everything.
    if (wanted('4d')) {
      const mib = Math.min(256, ENV.BLOB_MB)
      const r = await run(NODE, [join(DIST, 'p2p-probe.js'), String(mib), String(ENV.RUNS)], { timeoutMs: 300_000, env: { ...process.env, P2P_PROBE_JSON: '1' } })
      const line = r.stdout.split('\n').find(l => l.startsWith('P2P_PROBE '))
      if (line === undefined) {
        report.say(`p2p probe failed: ${r.stderr.slice(-500)}`)
      } else {
        const res = JSON.parse(line.slice('P2P_PROBE '.length)) as Record<string, number>
        report.raw.p2pProbe = { mib, mbps: res }
        const entries = Object.entries(res)
        const pattern = entries.find(([k]) => k.includes('agent default'))
        report.add({ fig: '4d', what: `transport alone, agent's piece pattern (${mib} MiB, no agent, no disk)`, value: pattern?.[1] ?? NaN, unit: 'MB/s',
          detail: `${Number.isFinite(peerSingleMBs) && pattern !== undefined ? `agent reached ${f2(peerSingleMBs / pattern[1])} of it; ` : ''}${entries.map(([k, v]) => `${k}: ${f1(v)}`).join('; ')}` })
      }
    }

    if (wanted('6')) {
      const bs = await Promise.all(Array.from({ length: ENV.PEERS }, startB))
      try {
        await Promise.all(bs.map(async bb => { await waitPeers(bb.url, 1, 2) }))
        upProxy.reset()
        const peak = new PeakRss(agentA.pid)
        const where = new PeakParts([agentA.pid], 200)
        const meter = new CpuMeter([agentA.pid])
        const t0 = performance.now()
        const rs = await Promise.all(bs.map(async bb => await curlGet(via(bb))))
        const wall = (performance.now() - t0) / 1000
        const cpu = perGB(meter.stop(), big.size * ENV.PEERS)
        const rss = peak.stop()
        const parts = where.stop().get(agentA.pid)?.parts ?? '-'
        must(rs.every(r => r.bytes === big.size), 'N peers: short body')
        must(upProxy.bytesFor(big.digest) === 0, 'N peers: bytes came from upstream')
        for (const bb of bs) must((await getSha256(via(bb))).sha256 === hexOf(big.digest), 'N peers: sha256 mismatch')
        const agg = mbps(big.size * ENV.PEERS, wall)
        report.raw.servePeers = { peers: ENV.PEERS, wallSecs: wall, perClientSecs: rs.map(r => r.secs), servingPeakRssMB: rss, receiverPeakRssMB: bs.map(x => memOf(x.pid).hwmMB), cpuPerGB: cpu }
        report.add({ fig: '6', what: `peak RSS agent serving ${ENV.PEERS} peers at once`, value: rss, unit: 'MB', target: '< 150', ok: rss < 150, cpuPerGB: cpu,
          detail: `aggregate ${f1(agg)} MB/s over ${ENV.PEERS} peers in ${f1(wall)} s${Number.isFinite(peerSingleMBs) ? ` (${f2(agg / peerSingleMBs)}x one peer)` : ''}; receivers' peak RSS [${bs.map(x => f1(memOf(x.pid).hwmMB)).join(' ')}] MB; CPU of the serving agent; its memory at the peak: ${parts}` })
      } finally { for (const bb of bs) await bb.stop() }
    }
  } finally { await upProxy.stop() }
}
