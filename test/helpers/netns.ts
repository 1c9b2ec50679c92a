// Several "hosts" on one machine: a bridge in its own network namespace + N host namespaces with
// veth pairs (10.77.S.X/24, multicast route), optional tbf shaping. The root namespace is never
// touched (the veth pairs are created inside the bridge namespace). Names are unique per test
// process (`ld<pid>n<k>…`), and destroy() deletes exactly what was made. mDNS must only ever run
// inside such namespaces.

import { execFileSync } from 'node:child_process'
import { spawnTracked, killAndWait, run, runOk, own, trackNetns, untrackNetns, type CleanupScope, type RunResult, type SpawnTrackedOptions, type Tracked } from './proc.js'

export interface NetHost {
  /** 1-based host number (also the last octet of its address). */
  index: number
  /** Network namespace name (ip netns exec NAME …). */
  ns: string
  /** Address on eth0, e.g. 10.77.0.1 */
  ip: string
  /** Name of the bridge-side veth (inside the bridge namespace). */
  bridgePort: string
}

export interface ShapeOptions {
  /** tbf rate, e.g. '50mbit'. */
  rate: string
  burst?: string
  latency?: string
  /** 'egress' (host → network, default), 'ingress' (network → host) or 'both'. */
  direction?: 'egress' | 'ingress' | 'both'
}

export interface TestNetwork {
  prefix: string
  bridgeNs: string
  hosts: NetHost[]
  /** Start a long-running process inside a host's namespace; it is killed (by PID) by destroy(). */
  spawn(host: NetHost | number, cmd: string, args: string[], opts?: SpawnTrackedOptions): Tracked
  /** Run a command to completion inside a host's namespace (bounded). */
  run(host: NetHost | number, cmd: string, args: string[], opts?: { timeoutMs?: number, env?: NodeJS.ProcessEnv, input?: string }): Promise<RunResult>
  shape(host: NetHost | number, s: ShapeOptions): Promise<void>
  unshape(host: NetHost | number): Promise<void>
  /** Kill the processes started with spawn() and delete every namespace made. */
  destroy(): Promise<void>
}

export interface NetworkOptions {
  hosts: number
  /** Third octet of 10.77.S.0/24 (default 0). */
  subnet?: number
  cleanup?: CleanupScope
}

let counter = 0

/** Namespaces whose name starts with `prefix` (default: this process's prefix `ld<pid>n`). */
export function listNamespaces (prefix = `ld${process.pid}n`): string[] {
  let out = ''
  try { out = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }) } catch { return [] }
  return out.split('\n').map(l => l.trim().split(' ')[0] ?? '').filter(n => n !== '' && n.startsWith(prefix))
}

export async function createNetwork (opts: NetworkOptions): Promise<TestNetwork> {
  if (opts.hosts < 1 || opts.hosts > 250) throw new Error('hosts: 1..250')
  const subnet = opts.subnet ?? 0
  const prefix = `ld${process.pid}n${++counter}`
  const bridgeNs = `${prefix}b`
  const made: string[] = []
  const procs = new Set<Tracked>()
  const hosts: NetHost[] = []

  const addNs = async (name: string): Promise<void> => {
    await runOk('ip', ['netns', 'add', name], { timeoutMs: 10_000 })
    made.push(name)
    trackNetns(name)
  }

  let destroyed = false
  const destroy = async (): Promise<void> => {
    if (destroyed) return
    destroyed = true
    unregister()
    for (const p of procs) await killAndWait(p, { timeoutMs: 5000 })
    procs.clear()
    for (const name of [...made].reverse()) {
      await run('ip', ['netns', 'del', name], { timeoutMs: 10_000 })
      untrackNetns(name)
    }
    made.length = 0
  }
  const unregister = own(destroy, opts.cleanup)

  try {
    await addNs(bridgeNs)
    const b = (args: string[]): Promise<RunResult> => runOk('ip', ['-n', bridgeNs, ...args], { timeoutMs: 10_000 })
    await b(['link', 'set', 'lo', 'up'])
    await b(['link', 'add', 'br0', 'type', 'bridge', 'mcast_snooping', '0'])
    await b(['link', 'set', 'br0', 'up'])
    for (let i = 1; i <= opts.hosts; i++) {
      const ns = `${prefix}h${i}`
      const port = `v${i}`
      await addNs(ns)
      const h = (args: string[]): Promise<RunResult> => runOk('ip', ['-n', ns, ...args], { timeoutMs: 10_000 })
      await b(['link', 'add', port, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns])
      await b(['link', 'set', port, 'master', 'br0'])
      await b(['link', 'set', port, 'up'])
      const ip = `10.77.${subnet}.${i}`
      await h(['addr', 'add', `${ip}/24`, 'dev', 'eth0'])
      await h(['link', 'set', 'lo', 'up'])
      await h(['link', 'set', 'eth0', 'up'])
      await h(['route', 'add', '224.0.0.0/4', 'dev', 'eth0'])
      hosts.push({ index: i, ns, ip, bridgePort: port })
    }
  } catch (err) {
    await destroy()
    throw err
  }

  const pick = (h: NetHost | number): NetHost => {
    const host = typeof h === 'number' ? hosts[h - 1] : h
    if (host === undefined) throw new Error(`no host ${String(h)}`)
    return host
  }

  const tbf = (s: ShapeOptions): string[] =>
    ['tbf', 'rate', s.rate, 'burst', s.burst ?? '64kb', 'latency', s.latency ?? '50ms']

  return {
    prefix,
    bridgeNs,
    hosts,
    spawn: (h, cmd, args, o = {}) => {
      const host = pick(h)
      const t = spawnTracked('ip', ['netns', 'exec', host.ns, cmd, ...args], { name: `${cmd}@${host.ns}`, ...o })
      procs.add(t)
      void t.exited.then(() => procs.delete(t))
      return t
    },
    run: async (h, cmd, args, o = {}) => {
      const host = pick(h)
      return await run('ip', ['netns', 'exec', host.ns, cmd, ...args], {
        timeoutMs: o.timeoutMs ?? 60_000,
        ...(o.env !== undefined ? { env: o.env } : {}),
        ...(o.input !== undefined ? { input: o.input } : {}),
      })
    },
    shape: async (h, s) => {
      const host = pick(h)
      const dir = s.direction ?? 'egress'
      if (dir === 'egress' || dir === 'both') {
        await runOk('tc', ['-n', host.ns, 'qdisc', 'replace', 'dev', 'eth0', 'root', ...tbf(s)], { timeoutMs: 10_000 })
      }
      if (dir === 'ingress' || dir === 'both') {
        await runOk('tc', ['-n', bridgeNs, 'qdisc', 'replace', 'dev', host.bridgePort, 'root', ...tbf(s)], { timeoutMs: 10_000 })
      }
    },
    unshape: async (h) => {
      const host = pick(h)
      await run('tc', ['-n', host.ns, 'qdisc', 'del', 'dev', 'eth0', 'root'], { timeoutMs: 10_000 })
      await run('tc', ['-n', bridgeNs, 'qdisc', 'del', 'dev', host.bridgePort, 'root'], { timeoutMs: 10_000 })
    },
    destroy,
  }
}
