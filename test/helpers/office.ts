// An "office" for the peer e2e tests: a test-made bridge + host namespaces (one layerd agent per
// host, mDNS ON with a short interval, p2p on its 10.77 address, registry API on 127.0.0.1:5000
// inside its namespace), and the upstream docker-registry behind the test's counting proxy,
// reachable from the hosts at 10.77.0.U:5000 over a tbf-shaped link.
//
// The registry and the counting proxy run in the root namespace on loopback (the proxy lives in
// the test process). A small forwarder in the upstream namespace listens on 10.77.0.U:5000 and
// relays each connection over a Unix socket (filesystem, not network-namespaced) to the test
// process, which relays it to the proxy on 127.0.0.1. So every upstream byte an agent receives is
// counted by the proxy, outside the agents, and nothing leaves loopback or the test namespaces.

import assert from 'node:assert/strict'
import { createServer, connect, type Server, type Socket } from 'node:net'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { createNetwork, type NetHost, type TestNetwork } from './netns.js'
import { startRegistry, type Registry, type RegistryOptions } from './registry.js'
import { startProxy, type CountingProxy } from './proxy.js'
import { startAgent, REPO_ROOT, type Agent } from './agent.js'
import { makeTempDir, removeTempDir, waitFor, own, killAndWait, type Tracked } from './proc.js'
import { skopeoCopy, verifyDirBlobs, writeRegistriesConf, type DirVerification, type SkopeoResult } from './skopeo.js'
import { metricValue, writeConfig } from './agent-http.js'
import type { BuiltImage } from './images.js'

export const UPSTREAM_NAME = 'upstream.test'
export const AGENT_PORT = 5000
export const P2P_PORT = 4050

export interface OfficeOptions {
  /** Agent hosts (the upstream gets one more host after them). */
  hosts: number
  /**
   * Agent hosts per subnet, joined by a router (their sum must equal `hosts`): h1… fill the first
   * subnet, which also holds the upstream host (after its agents).
   */
  subnets?: number[]
  /** tbf rate of the upstream link (upstream → office), e.g. '50mbit'. */
  rate?: string
  /** Write one office secret file (agents use it unless told otherwise). Default true. */
  secret?: boolean
  /** Extra YAML (as an object) merged into every agent's config. */
  config?: Record<string, unknown>
  /** Options of the upstream docker-registry (e.g. `{ auth: 'htpasswd' }`). */
  registry?: RegistryOptions
}

export interface PeerView {
  self: string | null
  enabled: boolean
  peers: Array<{ peerId: string, addresses: string[], foundBy?: string, mesh?: boolean, blobs: number, completeBlobs: number, bytes: number, bannedUntil?: number }>
}

export interface OfficeAgent {
  agent: Agent
  host: NetHost
  /** libp2p peer id (from the "layerd ready" log line). */
  peerId: string
  dataDir: string
  /** /ip4/10.77.0.X/tcp/4050/p2p/ID */
  multiaddr: string
  /** GET a path of the agent's API from inside its namespace (loopback). */
  get(path: string): Promise<{ status: number, body: string }>
  metricsText(): Promise<string>
  metric(name: string, labels?: Record<string, string>): Promise<number>
  peers(): Promise<PeerView>
}

export interface PullResult {
  skopeo: SkopeoResult
  dir: string
  verify?: DirVerification
  ms: number
  /** When the pull failed: upstream blob requests and the agents' log tails, for the failure message. */
  report?: string
}

export interface Office {
  net: TestNetwork
  registry: Registry
  proxy: CountingProxy
  upstreamHost: NetHost
  /** http://10.77.0.U:5000 */
  upstreamUrl: string
  agentHosts: NetHost[]
  secretFile?: string
  dir: string
  /** Start an agent on agent host `i` (1-based). */
  startAgent(i: number, opts?: StartOfficeAgentOptions): Promise<OfficeAgent>
  /** skopeo pull of `repo:tag` (upstream.test/…) through the agent on host `i`, then verify the blobs. */
  pull(i: number, ref: string, opts?: { timeoutMs?: number }): Promise<PullResult>
  /** Upstream body bytes of the image's blobs (layers + config) since the last proxy.reset(). */
  blobBytes(img: BuiltImage): number
  /** Upstream body bytes of manifest requests since the last proxy.reset(). */
  manifestBytes(): number
  /** The upstream goes away: its address refuses connections (the forwarder stops). */
  stopUpstream(): Promise<void>
  /** Write the upstream blob requests and the agents' log tails (default: every running agent). */
  dumpTo(fn: (s: string) => void, agents?: OfficeAgent[]): void
  stop(): Promise<void>
}

export interface StartOfficeAgentOptions {
  env?: Record<string, string>
  /** Entry script instead of bin/layerd.js (e.g. a test double of the agent). */
  bin?: string
  /** Use this secret file (default: the office's), or null for none. */
  secretFile?: string | null
  /** Reuse a data dir (default: a fresh one per call). */
  dataDir?: string
  extraArgs?: string[]
}

const FORWARDER = `
const net = require('node:net')
const [sock, host, port] = process.argv.slice(1)
const srv = net.createServer(c => {
  const u = net.connect(sock)
  c.pipe(u); u.pipe(c)
  const done = () => { c.destroy(); u.destroy() }
  c.on('error', done); u.on('error', done); c.on('close', done); u.on('close', done)
})
srv.listen(Number(port), host, () => console.log('forwarder listening'))
setTimeout(() => process.exit(0), 30 * 60_000).unref()
`

/** Image blobs as the registry stores them: layers + per-platform configs. */
export function imageBlobs (img: BuiltImage): Array<{ digest: string, size: number }> {
  const out = new Map<string, number>()
  for (const l of img.layers) out.set(l.digest, l.size)
  for (const p of img.platforms) out.set(p.configDigest, p.configSize)
  return [...out].map(([digest, size]) => ({ digest, size }))
}

export function imageBytes (img: BuiltImage): number {
  return imageBlobs(img).reduce((n, b) => n + b.size, 0)
}

export async function startOffice (opts: OfficeOptions): Promise<Office> {
  const dir = makeTempDir('office')
  const layout = opts.subnets ?? [opts.hosts]
  if (layout.reduce((n, k) => n + k, 0) !== opts.hosts) throw new Error('subnets must add up to hosts')
  const net = await createNetwork({ hosts: opts.hosts + 1, subnets: [layout[0]! + 1, ...layout.slice(1)] })
  const cleanups: Array<() => Promise<void> | void> = [async () => { await net.destroy() }, () => removeTempDir(dir)]
  const stop = async (): Promise<void> => {
    for (const fn of cleanups.splice(0).reverse()) { try { await fn() } catch { /* best effort */ } }
  }
  const unregister = own(stop)
  try {
    const registry = await startRegistry(opts.registry)
    cleanups.push(async () => { await registry.stop() })
    const proxy = await startProxy(registry.url)
    cleanups.push(async () => { await proxy.stop() })

    // Unix-socket relay to the proxy (test process side).
    const sockPath = join(dir, 'upstream.sock')
    const sockets = new Set<Socket>()
    const relay: Server = createServer(c => {
      const t = connect(proxy.port, '127.0.0.1')
      sockets.add(c); sockets.add(t)
      c.pipe(t); t.pipe(c)
      const done = (): void => { c.destroy(); t.destroy(); sockets.delete(c); sockets.delete(t) }
      c.on('error', done); t.on('error', done); c.on('close', done); t.on('close', done)
    })
    await new Promise<void>((resolve, reject) => { relay.once('error', reject); relay.listen(sockPath, () => resolve()) })
    relay.unref()
    cleanups.push(async () => {
      for (const s of sockets) s.destroy()
      await new Promise<void>(resolve => relay.close(() => resolve()))
    })

    const upstreamHost = net.hosts[layout[0]!] as NetHost
    // Small socket buffers on the upstream side: bytes the proxy counted are (nearly) bytes that
    // left on the shaped link, not megabytes waiting in a kernel buffer when an agent is killed.
    await net.run(upstreamHost, 'sysctl', ['-q', '-w', 'net.ipv4.tcp_wmem=4096 16384 262144'])
    const fwd: Tracked = net.spawn(upstreamHost, process.execPath, ['-e', FORWARDER, sockPath, upstreamHost.ip, String(AGENT_PORT)], { name: 'forwarder' })
    await fwd.waitForLine(l => l.includes('forwarder listening'), 10_000)
    if (opts.rate !== undefined) await net.shape(upstreamHost, { rate: opts.rate })
    const upstreamUrl = `http://${upstreamHost.ip}:${AGENT_PORT}`

    let secretFile: string | undefined
    if (opts.secret !== false) secretFile = writeConfig(join(dir, 'office.secret'), randomBytes(32).toString('hex'))
    const configFile = writeConfig(join(dir, 'layerd.yaml'), {
      ...(opts.config ?? {}),
      p2p: { mdnsInterval: 1000, ...((opts.config?.p2p as Record<string, unknown> | undefined) ?? {}) },
    })
    const registriesConf = writeRegistriesConf(join(dir, 'registries.conf'), { prefix: UPSTREAM_NAME, mirror: `127.0.0.1:${AGENT_PORT}` })
    const agentHosts = net.hosts.filter(h => h !== upstreamHost)
    let pulls = 0
    const started: OfficeAgent[] = []

    const office: Office = {
      net,
      registry,
      proxy,
      upstreamHost,
      upstreamUrl,
      agentHosts,
      ...(secretFile !== undefined ? { secretFile } : {}),
      dir,
      startAgent: async (i, o = {}) => {
        const host = agentHosts[i - 1]
        if (host === undefined) throw new Error(`no agent host ${i}`)
        const dataDir = o.dataDir ?? join(makeTempDir(`agent-h${i}`), 'data')
        const secret = o.secretFile === undefined ? secretFile : (o.secretFile ?? undefined)
        const agent = await startAgent({
          netns: host.ns,
          mdns: true,
          listenHost: '127.0.0.1',
          port: AGENT_PORT,
          dataDir,
          upstreams: { [UPSTREAM_NAME]: upstreamUrl },
          ...(o.env !== undefined ? { env: o.env } : {}),
          ...(o.bin !== undefined ? { bin: o.bin } : {}),
          extraArgs: [
            '--config', configFile,
            '--p2p-listen', `/ip4/${host.ip}/tcp/${P2P_PORT}`,
            ...(secret !== undefined ? ['--secret-file', secret] : []),
            ...(o.extraArgs ?? []),
          ],
        })
        const ready = agent.logLines().filter(l => l.msg === 'layerd ready').at(-1)
        const peerId = String(ready?.peerId ?? '')
        const get = async (path: string): Promise<{ status: number, body: string }> => {
          const r = await net.run(host, 'curl', ['-sS', '-m', '10', '-o', '-', '-w', '\n%{http_code}', `http://127.0.0.1:${AGENT_PORT}${path}`], { timeoutMs: 15_000 })
          const out = r.stdout
          const nl = out.lastIndexOf('\n')
          return { status: Number(out.slice(nl + 1)), body: out.slice(0, Math.max(0, nl)) }
        }
        const metricsText = async (): Promise<string> => {
          const r = await get('/metrics')
          if (r.status !== 200) throw new Error(`/metrics on ${host.ns}: ${r.status}`)
          return r.body
        }
        const oa: OfficeAgent = {
          agent,
          host,
          peerId,
          dataDir,
          multiaddr: `/ip4/${host.ip}/tcp/${P2P_PORT}/p2p/${peerId}`,
          get,
          metricsText,
          metric: async (name, labels = {}) => metricValue(await metricsText(), name, labels),
          peers: async () => {
            const r = await get('/_layerd/peers')
            if (r.status !== 200) throw new Error(`/_layerd/peers on ${host.ns}: ${r.status} ${r.body}`)
            return JSON.parse(r.body) as PeerView
          },
        }
        started.push(oa)
        return oa
      },
      pull: async (i, ref, o = {}) => {
        const host = agentHosts[i - 1]
        if (host === undefined) throw new Error(`no agent host ${i}`)
        const out = join(dir, 'pulls', `${++pulls}-h${i}`)
        const t0 = performance.now()
        const skopeo = await skopeoCopy(`${UPSTREAM_NAME}/${ref}`, out, { registriesConf, netns: host.ns, timeoutMs: o.timeoutMs ?? 60_000 })
        const ms = performance.now() - t0
        if (!skopeo.ok) {
          const lines: string[] = []
          office.dumpTo(s => lines.push(s), started.filter(a => a.agent.alive()).sort((a, b) => (a.host === host ? -1 : 0) - (b.host === host ? -1 : 0)))
          return { skopeo, dir: out, ms, report: lines.join('\n') }
        }
        return { skopeo, dir: out, ms, verify: await verifyDirBlobs(out) }
      },
      blobBytes: (img) => imageBlobs(img).reduce((n, b) => n + proxy.bytesFor(`/blobs/${b.digest}`), 0),
      manifestBytes: () => proxy.bytesFor('/manifests/'),
      stopUpstream: async () => { await killAndWait(fwd, { timeoutMs: 5000 }) },
      dumpTo: (fn, agents) => dumpOffice({ diagnostic: fn }, office, agents ?? started.filter(a => a.agent.alive())),
      stop: async () => { unregister(); await stop() },
    }
    return office
  } catch (err) {
    unregister()
    await stop()
    throw err
  }
}

/** Wait until every agent lists every other agent as a connected peer. */
export async function waitForMesh (agents: OfficeAgent[], timeoutMs = 20_000): Promise<void> {
  await waitFor(async () => {
    for (const a of agents) {
      const v = await a.peers()
      const ids = new Set(v.peers.map(p => p.peerId))
      if (!agents.every(b => b === a || ids.has(b.peerId))) return false
    }
    return true
  }, { timeoutMs, intervalMs: 250, what: `mesh of ${agents.length} agents` })
}

/** How many complete blobs `viewer` sees `holder` holding (0 when not connected). */
export async function completeSeen (viewer: OfficeAgent, holder: OfficeAgent): Promise<number> {
  const v = await viewer.peers()
  return v.peers.find(x => x.peerId === holder.peerId)?.completeBlobs ?? 0
}

/** Wait until `viewer` sees `holder` (connected, not banned) with at least `min` complete blobs. */
export async function waitForHolder (viewer: OfficeAgent, holder: OfficeAgent, min: number, timeoutMs = 15_000): Promise<void> {
  await waitFor(async () => {
    const v = await viewer.peers()
    const p = v.peers.find(x => x.peerId === holder.peerId)
    return p !== undefined && p.completeBlobs >= min && p.bannedUntil === undefined
  }, { timeoutMs, intervalMs: 200, what: `${viewer.host.ns} to see ${holder.host.ns} with ${min} complete blobs` })
}

/** For failure reports: the upstream blob requests the proxy saw and the tail of each agent's log. */
export function dumpOffice (t: { diagnostic: (s: string) => void }, office: Office, agents: OfficeAgent[]): void {
  const reqs = office.proxy.requests()
  const t0 = Math.min(...reqs.map(r => r.startedAt))
  for (const r of reqs) {
    if (!r.path.includes('/blobs/')) continue
    t.diagnostic(`upstream +${r.startedAt - t0} ms ${r.method} …${r.path.slice(-16)} range=${r.range ?? '-'} status=${r.status} bytes=${r.bytes} ${r.ms.toFixed(0)} ms${r.incomplete ? ' incomplete' : ''}${r.done ? '' : ' RUNNING'}`)
  }
  for (const a of agents) {
    const tail = a.agent.logs().split('\n').filter(l => process.env.E2E_DEBUG === '1' || !l.includes('"level":20')).slice(process.env.E2E_DEBUG === '1' ? -150 : -40).join('\n')
    t.diagnostic(`${a.host.ns} (${a.peerId.slice(-6)}) log tail:\n${tail}`)
  }
}

/** A pull through an agent succeeded and every blob of the image arrived with its digest. */
export function assertPulled (r: PullResult, img: BuiltImage, who: string): void {
  assert.ok(r.skopeo.ok, `${who}: skopeo failed: ${r.skopeo.stderr.slice(-2000)}\n${r.report ?? ''}`)
  assert.ok(r.verify !== undefined && r.verify.ok, `${who}: bad blobs ${r.verify?.bad.join(',') ?? ''}`)
  assert.equal(r.verify.manifestDigest, img.topDigest, `${who}: manifest digest`)
  const got = new Set(r.verify.blobs.map(b => b.digest))
  for (const b of imageBlobs(img)) assert.ok(got.has(b.digest), `${who}: blob ${b.digest} pulled`)
}

export const ratio = (n: number, d: number): string => (n / d).toFixed(3)

export { REPO_ROOT }
