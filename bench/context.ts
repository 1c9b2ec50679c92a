// What every figure of the bench shares: knobs from the environment, the report, the images in
// the root-namespace docker-registry, and how to start an agent the same way in every figure.

import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { startAgent, REPO_ROOT, type Agent } from '../test/helpers/agent.js'
import type { BuiltImage, LayerInfo } from '../test/helpers/images.js'
import type { Registry } from '../test/helpers/registry.js'
import type { Report } from './report.js'

const num = (k: string, d: number): number => { const v = process.env[k]; return v === undefined || v === '' ? d : Number(v) }

export const ENV = {
  /** Data size of the big layer in MiB (a second layer is 1/4 of it). */
  BLOB_MB: num('BENCH_BLOB_MB', 1024),
  /** Size of the cold-pull-vs-durability-floor and peer-path blobs in MiB. */
  COLD_MB: num('BENCH_COLD_MB', 300),
  RUNS: Math.max(1, num('BENCH_RUNS', 3)),
  CLIENTS: num('BENCH_CLIENTS', 8),
  PEERS: num('BENCH_PEERS', 4),
  NET_MB: num('BENCH_NET_MB', 128),
  NET_RATE: process.env.BENCH_NET_RATE ?? '50mbit',
  NET_RUNS: Math.max(1, num('BENCH_NET_RUNS', 1)),
  /** Layers of the small-layers image, and their size in KiB. */
  SMALL_LAYERS: num('BENCH_SMALL_LAYERS', 30),
  SMALL_KB: num('BENCH_SMALL_KB', 1024),
  /** Upload cap of each neighbour in the capped-neighbours figure, MiB/s; blob size MiB. */
  CAP_MIBS: num('BENCH_CAP_MIBS', 8),
  CAP_MB: num('BENCH_CAP_MB', 96),
  /** Office sizes of the idle figure, how long it measures, settles first, and peers each must see. */
  IDLE_SIZES: (process.env.BENCH_IDLE_SIZES ?? '5,20').split(',').map(Number).filter(n => n > 0),
  IDLE_MS: num('BENCH_IDLE_MS', 30_000),
  IDLE_SETTLE_MS: num('BENCH_IDLE_SETTLE_MS', 20_000),
  IDLE_MIN_PEERS: num('BENCH_IDLE_MIN_PEERS', 4),
  SKIP: new Set((process.env.BENCH_SKIP ?? '').split(',').map(s => s.trim()).filter(s => s !== '')),
  ONLY: new Set((process.env.BENCH_ONLY ?? '').split(',').map(s => s.trim()).filter(s => s !== '')),
  CPU_PROF: process.env.BENCH_CPU_PROF,
  AGENT_CONFIG: process.env.BENCH_AGENT_CONFIG
}

/** Whether figure `fig` runs (BENCH_ONLY wins over BENCH_SKIP). */
export function wanted (fig: string): boolean {
  if (ENV.ONLY.size > 0) return ENV.ONLY.has(fig)
  return !ENV.SKIP.has(fig)
}

export const UP = 'bench.test'
export const NODE = process.execPath
export const DIST = join(REPO_ROOT, 'dist', 'bench')
export { REPO_ROOT }

// `--cpu-prof` is not allowed in NODE_OPTIONS: preload bench/cpu-prof.ts instead.
export const agentEnv: Record<string, string> = ENV.CPU_PROF !== undefined && ENV.CPU_PROF !== ''
  ? (mkdirSync(ENV.CPU_PROF, { recursive: true }), { NODE_OPTIONS: `--import=${pathToFileURL(join(DIST, 'cpu-prof.js')).href}`, BENCH_CPU_PROF: ENV.CPU_PROF, BENCH_PROF: process.env.BENCH_PROF ?? 'cpu' })
  : {}
export const configArgs = ENV.AGENT_CONFIG !== undefined && ENV.AGENT_CONFIG !== '' ? ['--config', ENV.AGENT_CONFIG] : []

export interface Bench {
  report: Report
  registry: Registry
  /** bench/big:v1 — a BLOB_MB layer and a quarter of it. */
  big: BuiltImage
}

export const blobUrl = (base: string, repo: string, digest: string): string => `${base}/v2/${repo}/blobs/${digest}`

/** An agent in the root namespace (mDNS off, p2p on 127.0.0.1) in front of `upstream`. */
export async function localAgent (upstream: string, extra: string[] = []): Promise<Agent> {
  return await startAgent({ upstreams: { [UP]: upstream }, extraArgs: [...configArgs, ...extra], env: agentEnv, readyTimeoutMs: 30_000 })
}

/** The agent's libp2p address on 127.0.0.1, from its log. */
export function p2pAddr (a: Agent): string {
  const l = a.logLines().find(x => x.msg === 'p2p started')
  const addrs = (l?.addresses ?? []) as string[]
  const addr = addrs.find(x => x.includes('/127.0.0.1/')) ?? addrs[0]
  if (addr === undefined) throw new Error(`agent ${a.url}: no p2p address in its log`)
  return addr
}

export type { Agent, LayerInfo }
