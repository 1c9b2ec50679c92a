// An office in network namespaces made by the bench: h1 is the internet side (docker-registry on
// the same storage as the root-namespace registry, plain HTTP on 10.77.0.1:5001, and the
// counting proxy in front of it on 10.77.0.1:5000, its egress optionally shaped with tbf); the
// other hosts run agents (registry API on 0.0.0.0:5000, p2p on their 10.77 address, mDNS off
// unless asked) and their clients. Nothing leaves the namespaces this file creates.

import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { startAgent, type Agent } from '../test/helpers/agent.js'
import { createNetwork, type NetHost, type TestNetwork } from '../test/helpers/netns.js'
import { makeTempDir, removeTempDir, waitFor, type Tracked } from '../test/helpers/proc.js'
import { skopeoCopy, writeRegistriesConf } from '../test/helpers/skopeo.js'
import type { Registry } from '../test/helpers/registry.js'
import { agentEnv, configArgs, DIST, NODE, UP } from './context.js'
import { cpuSecs, curlGet, type CurlResult } from './lib.js'

export interface ProxyStats { totalBytes: number, requests: number, blobGets: number }
export interface ProxyLogEntry { client?: string, path: string, range?: string, status: number, bytes: number, startedAt: number, ms: number }

export interface NetAgent {
  agent: Agent
  host: NetHost
  /** /ip4/10.77.0.X/tcp/4050 */
  p2p: string
}

export interface AgentOpts {
  /** Other agents to give as --peer. */
  peers?: NetAgent[]
  mdns?: boolean
  /** A YAML config for this agent (overrides BENCH_AGENT_CONFIG). */
  configFile?: string
  extraArgs?: string[]
}

export interface BenchNet {
  net: TestNetwork
  hosts: NetHost[]
  /** Through the counting proxy: what agents use as their upstream. */
  upstreamUrl: string
  /** docker-registry itself, plain HTTP over the bridge (a baseline). */
  registryUrl: string
  dir: string
  stats (): Promise<ProxyStats>
  /** The proxy's blob GETs since the last reset (who asked which range, how many bytes). */
  log (): Promise<ProxyLogEntry[]>
  reset (): Promise<void>
  shape (rate: string): Promise<void>
  startAgent (host: NetHost, opts?: AgentOpts): Promise<NetAgent>
  /** Prometheus values of an agent, summed per name{labels}. */
  metrics (a: NetAgent): Promise<Record<string, number>>
  /** Wait until the agent has `n` connected peers. */
  waitPeers (a: NetAgent, n: number): Promise<void>
  /**
   * Wait until every agent has `n` connected peers: one agent asked at a time, so that waiting on
   * a hundred agents does not itself load the machine (each question is a process in a namespace).
   */
  waitAllPeers (agents: NetAgent[], n: number): Promise<void>
  curl (host: NetHost, url: string, timeoutMs?: number): Promise<CurlResult>
  /** skopeo copy of `ref` (bench.test/NAME:TAG) through the agent on `host`; returns seconds. */
  pull (host: NetHost, ref: string, outDir: string): Promise<number>
  destroy (): Promise<void>
}

/** BENCH_KEEP_LOGS=DIR: every agent's log, for a figure that went wrong. */
function keepLogs (a: Agent): void {
  const keep = process.env.BENCH_KEEP_LOGS
  if (keep === undefined || keep === '') return
  mkdirSync(keep, { recursive: true })
  writeFileSync(join(keep, `agent-${a.pid}.log`), a.logs())
}

/** `subnets`: hosts per subnet, joined by a router (h1, the registry, is on the first). */
export async function startBenchNet (registry: Registry, hosts: number, subnets?: number[]): Promise<BenchNet> {
  const net = await createNetwork({ hosts, ...(subnets !== undefined ? { subnets } : {}) })
  const dir = makeTempDir('bench-ns')
  const agents: Agent[] = []
  let px: Tracked | undefined
  const destroy = async (): Promise<void> => {
    for (const a of agents.splice(0)) { keepLogs(a); await a.stop().catch(() => {}) }
    px?.child.stdin?.end()
    await net.destroy()
    removeTempDir(dir)
  }
  try {
    const h1 = net.hosts[0] as NetHost
    const cfg = join(dir, 'registry.yml')
    writeFileSync(cfg, JSON.stringify({
      version: 0.1,
      log: { level: 'warn', accesslog: { disabled: true } },
      storage: { filesystem: { rootdirectory: registry.dataDir }, maintenance: { uploadpurging: { enabled: false } } },
      http: { addr: `${h1.ip}:5001`, secret: 'bench' }
    }))
    net.spawn(h1, 'docker-registry', ['serve', cfg], { name: 'registry@h1' })
    const registryUrl = `http://${h1.ip}:5001`
    await waitFor(async () => {
      const r = await net.run(h1, 'curl', ['-s', '--noproxy', '*', '-o', '/dev/null', '-w', '%{http_code}', `${registryUrl}/v2/`], { timeoutMs: 5000 })
      return r.stdout.trim() === '200'
    }, { timeoutMs: 15_000, what: 'registry in h1' })
    px = net.spawn(h1, NODE, [join(DIST, 'proxy-main.js'), h1.ip, '5000', registryUrl], { name: 'proxy@h1', stdio: ['pipe', 'pipe', 'pipe'] })
    await px.waitForLine(l => l.includes('"ready"'), 15_000)
    const proxy = px
    let seq = 0
    const cmd = async (c: string): Promise<any> => {
      const id = String(++seq)
      proxy.child.stdin?.write(`${c} ${id}\n`)
      return JSON.parse(await proxy.waitForLine(l => l.includes(`"id":"${id}"`), 10_000))
    }
    const registriesConf = (host: NetHost): string => writeRegistriesConf(join(dir, `registries-${host.index}.conf`), { prefix: UP, mirror: `127.0.0.1:5000` })
    const bn: BenchNet = {
      net,
      hosts: net.hosts,
      upstreamUrl: `http://${h1.ip}:5000`,
      registryUrl,
      dir,
      stats: async () => await cmd('stats') as ProxyStats,
      log: async () => (await cmd('log') as { log: ProxyLogEntry[] }).log,
      reset: async () => { await cmd('reset') },
      shape: async (rate) => { await net.shape(h1, { rate }) },
      startAgent: async (host, o = {}) => {
        const agent = await startAgent({
          netns: host.ns,
          listenHost: '0.0.0.0',
          port: 5000,
          upstreams: { [UP]: bn.upstreamUrl },
          env: agentEnv,
          readyTimeoutMs: 30_000,
          mdns: o.mdns === true,
          extraArgs: [
            ...(o.configFile !== undefined ? ['--config', o.configFile] : configArgs),
            '--p2p-listen', `/ip4/${host.ip}/tcp/4050`,
            ...(o.peers ?? []).flatMap(p => ['--peer', p.p2p]),
            ...(o.extraArgs ?? [])
          ]
        })
        agents.push(agent)
        const na: NetAgent = { agent, host, p2p: `/ip4/${host.ip}/tcp/4050` }
        const stop = agent.stop
        agent.stop = async (opts) => { agents.splice(agents.indexOf(agent), 1); keepLogs(agent); return await stop(opts) }
        return na
      },
      metrics: async (a) => {
        const r = await net.run(a.host, 'curl', ['-s', '--noproxy', '*', 'http://127.0.0.1:5000/metrics'], { timeoutMs: 5000 })
        const out: Record<string, number> = {}
        for (const line of r.stdout.split('\n')) {
          const m = /^(layerd_[a-z_]+)(\{[^}]*\})?\s+(\S+)$/.exec(line)
          if (m !== null) out[`${m[1]}${m[2] ?? ''}`] = (out[`${m[1]}${m[2] ?? ''}`] ?? 0) + Number(m[3])
        }
        return out
      },
      waitPeers: async (a, n) => {
        await waitFor(async () => ((await bn.metrics(a)).layerd_peers_connected ?? 0) >= n, { timeoutMs: 40_000, intervalMs: 100, what: `${a.host.ns} connected to ${n} peers` })
      },
      waitAllPeers: async (list, n) => {
        const pending = new Set(list)
        try {
          await waitFor(async () => {
            for (const a of [...pending]) if (((await bn.metrics(a)).layerd_peers_connected ?? 0) >= n) pending.delete(a)
            return pending.size === 0
          }, { timeoutMs: 40_000 + 200 * list.length, intervalMs: 250, what: `${list.length} agents connected to ${n} peers each` })
        } catch (err) {
          const why: string[] = []
          for (const a of [...pending].slice(0, 5)) {
            const udp = await net.run(a.host, 'ss', ['-uanp'], { timeoutMs: 5000 })
            const m = await net.run(a.host, 'curl', ['-s', '-m', '3', '--noproxy', '*', 'http://127.0.0.1:5000/metrics'], { timeoutMs: 5000 })
            const peers = /^layerd_peers_connected\s+(\S+)/m.exec(m.stdout)?.[1]
            why.push(`${a.host.ns}: metrics ${m.code === 0 ? `peers=${peers}` : `failed (${m.code})`}, cpu ${cpuSecs(a.agent.pid).toFixed(2)} s, udp ${udp.stdout.split('\n').filter(l => l.includes('5353')).join(' | ')}`)
          }
          throw new Error(`${err instanceof Error ? err.message : String(err)}; not connected: ${[...pending].map(a => a.host.ns).join(' ')}\n${why.join('\n')}`)
        }
      },
      curl: async (host, url, timeoutMs) => await curlGet(url, { netns: host.ns, timeoutMs: timeoutMs ?? 600_000 }),
      pull: async (host, ref, outDir) => {
        const t0 = performance.now()
        const r = await skopeoCopy(ref, outDir, { registriesConf: registriesConf(host), netns: host.ns, timeoutMs: 600_000 })
        if (!r.ok) throw new Error(`skopeo in ${host.ns}: ${r.stderr.slice(-1000)}`)
        return (performance.now() - t0) / 1000
      },
      destroy
    }
    return bn
  } catch (err) {
    await destroy()
    throw err
  }
}
