// The agent under test: `node bin/layerd.js serve --listen 127.0.0.1:PORT --data-dir DIR
// --upstream NAME=URL ... --default-registry NAME --no-mdns [extra]`. It prints JSON log lines on
// stdout; one has "msg":"layerd ready" once it listens.

import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { freePort } from './ports.js'
import { makeTempDir, removeTempDir, spawnTracked, killAndWait, own, run, type CleanupScope, type ExitInfo, type RunResult, type Tracked } from './proc.js'

/** Repository root (this file is dist/test/helpers/agent.js once compiled). */
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url))
export const AGENT_BIN = join(REPO_ROOT, 'bin', 'layerd.js')

/**
 * What bin/layerd.js's `#!/usr/bin/env -S [NAME=VALUE ...] node [FLAGS]` line sets: agents under
 * test run with the same environment settings and node flags.
 */
export function launcher (bin = AGENT_BIN): { env: Record<string, string>, flags: string[] } {
  try {
    const first = readFileSync(bin, 'utf8').split('\n', 1)[0] ?? ''
    const m = /^#!\S*env -S (.*)$/.exec(first)
    if (m === null) return { env: {}, flags: [] }
    const words = (m[1] as string).trim().split(/\s+/)
    const node = words.indexOf('node')
    if (node < 0) return { env: {}, flags: [] }
    const env = Object.fromEntries(words.slice(0, node).map(w => [w.slice(0, w.indexOf('=')), w.slice(w.indexOf('=') + 1)]))
    return { env, flags: words.slice(node + 1) }
  } catch { return { env: {}, flags: [] } }
}

/** Run `node bin/layerd.js ARGS` to completion as a user would (bounded); never rejects on exit code. */
export async function runLayerd (args: string[], opts: { timeoutMs?: number, env?: Record<string, string> } = {}): Promise<RunResult> {
  return await run(process.execPath, [AGENT_BIN, ...args], { timeoutMs: opts.timeoutMs ?? 30_000, cwd: REPO_ROOT, env: { ...process.env, ...opts.env } })
}

export interface AgentOptions {
  /** Upstreams: name → base URL (e.g. { 'upstream.test': registry.url }). */
  upstreams: Record<string, string> | Array<[string, string]>
  /** --default-registry (default: the first upstream name). */
  defaultRegistry?: string
  /** Data dir (default: a temp dir owned by this helper, removed by stop()). */
  dataDir?: string
  /** Listen address (default 127.0.0.1; inside a namespace e.g. 10.77.0.1). */
  listenHost?: string
  port?: number
  /** Run inside this network namespace (`ip netns exec`). */
  netns?: string
  /** Keep mDNS on (only allowed with `netns`: mDNS must never run in the root namespace). */
  mdns?: boolean
  /**
   * Extra CLI arguments. Unless they contain --p2p-listen or --no-p2p, an agent in the root
   * namespace gets `--p2p-listen /ip4/127.0.0.1/tcp/0` (the built-in default 0.0.0.0:4050 would
   * make two test agents collide and listen on the real interface).
   */
  extraArgs?: string[]
  env?: Record<string, string>
  /** Entry script (default bin/layerd.js of this repo; env LAYERD_BIN overrides too). */
  bin?: string
  /** How long to wait for "layerd ready" (default 20 s). */
  readyTimeoutMs?: number
  cleanup?: CleanupScope
}

export interface Agent {
  /** http://HOST:PORT */
  url: string
  /** HOST:PORT */
  host: string
  port: number
  /** PID of the current process (changes on restart). */
  pid: number
  dataDir: string
  /** The argv after `node bin/layerd.js`. */
  args: string[]
  /** All output (stdout + stderr) of every run so far, oldest first. */
  logs(): string
  /** The JSON log lines of every run so far (non-JSON lines skipped). */
  logLines(): Array<Record<string, unknown>>
  /** Wait for a log line (JSON-parsed) matching pred, in the current run; bounded. */
  waitForLog(pred: (line: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>
  /** Whether the current process is still running. */
  alive(): boolean
  /** SIGTERM and wait for exit (SIGKILL after timeoutMs); removes the data dir it owns unless keepData. */
  stop(opts?: { keepData?: boolean, timeoutMs?: number }): Promise<ExitInfo>
  /** SIGKILL and wait (data dir kept, for restart()). */
  kill9(): Promise<ExitInfo>
  /** Stop (SIGTERM, if running) and start again with the same args, data dir and port. */
  restart(): Promise<void>
}

function parseJsonLine (line: string): Record<string, unknown> | undefined {
  const s = line.trim()
  if (!s.startsWith('{')) return undefined
  try { return JSON.parse(s) as Record<string, unknown> } catch { return undefined }
}

export async function startAgent (opts: AgentOptions): Promise<Agent> {
  if (opts.mdns === true && opts.netns === undefined) {
    throw new Error('startAgent: mdns only inside a test network namespace (pass netns)')
  }
  if (opts.bin === undefined && process.env.LAYERD_BIN === undefined && !existsSync(join(REPO_ROOT, 'dist', 'bundle', 'layerd.js'))) {
    throw new Error(`agent not built: ${join(REPO_ROOT, 'dist/bundle/layerd.js')} missing (run npm run build)`)
  }
  const ups = Array.isArray(opts.upstreams) ? opts.upstreams : Object.entries(opts.upstreams)
  if (ups.length === 0) throw new Error('startAgent: at least one upstream')
  const listenHost = opts.listenHost ?? '127.0.0.1'
  const port = opts.port ?? (opts.netns === undefined ? await freePort(listenHost) : 5000)
  const ownDir = opts.dataDir === undefined ? makeTempDir('agent') : undefined
  const dataDir = opts.dataDir ?? join(ownDir as string, 'data')

  const args = [
    'serve',
    '--listen', `${listenHost}:${port}`,
    '--data-dir', dataDir,
    ...ups.flatMap(([name, url]) => ['--upstream', `${name}=${url}`]),
    '--default-registry', opts.defaultRegistry ?? (ups[0] as [string, string])[0],
    ...(opts.mdns === true ? [] : ['--no-mdns']),
    ...(opts.netns === undefined && !(opts.extraArgs ?? []).some(a => a === '--no-p2p' || a.startsWith('--p2p-listen'))
      ? ['--p2p-listen', '/ip4/127.0.0.1/tcp/0']
      : []),
    ...(opts.extraArgs ?? []),
  ]
  const bin = opts.bin ?? process.env.LAYERD_BIN ?? AGENT_BIN
  // An agent under test never inherits a proxy from the machine (it would send loopback traffic
  // there): a test that wants one passes it in `env`.
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(https?|no)_proxy$/i.test(k)))
  const set = launcher()
  const env = { ...inherited, ...set.env, ...opts.env }
  let pastLogs = ''
  let proc: Tracked | undefined

  const launch = async (): Promise<void> => {
    const flags = set.flags
    const [cmd, full] = opts.netns === undefined
      ? [process.execPath, [...flags, bin, ...args]]
      : ['ip', ['netns', 'exec', opts.netns, process.execPath, ...flags, bin, ...args]]
    const p = spawnTracked(cmd, full, { name: 'layerd', cwd: REPO_ROOT, env, maxLog: 8 << 20 })
    proc = p
    try {
      await p.waitForLine(l => parseJsonLine(l)?.msg === 'layerd ready', opts.readyTimeoutMs ?? 20_000)
    } catch (err) {
      await killAndWait(p, { timeoutMs: 3000 })
      throw err
    }
  }

  const retire = (): void => {
    if (proc !== undefined) pastLogs += proc.output()
  }

  let disposed = false
  const stop = async (o: { keepData?: boolean, timeoutMs?: number } = {}): Promise<ExitInfo> => {
    const p = proc as Tracked
    const info = await killAndWait(p, { timeoutMs: o.timeoutMs ?? 15_000 })
    if (o.keepData !== true && !disposed) {
      disposed = true
      unregister()
      if (ownDir !== undefined) removeTempDir(ownDir)
    }
    return info
  }
  const unregister = own(async () => { if (!disposed) await stop() }, opts.cleanup)

  try {
    await launch()
  } catch (err) {
    await stop()
    throw err
  }

  const current = (): Tracked => proc as Tracked
  return {
    url: `http://${listenHost}:${port}`,
    host: `${listenHost}:${port}`,
    port,
    get pid () { return current().pid },
    dataDir,
    args,
    logs: () => pastLogs + current().output(),
    logLines: () => (pastLogs + current().output()).split('\n').map(parseJsonLine).filter((x): x is Record<string, unknown> => x !== undefined),
    waitForLog: async (pred, timeoutMs = 10_000) => {
      const line = await current().waitForLine(l => { const j = parseJsonLine(l); return j !== undefined && pred(j) }, timeoutMs)
      return parseJsonLine(line) as Record<string, unknown>
    },
    alive: () => current().alive(),
    stop,
    kill9: async () => await killAndWait(current(), { signal: 'SIGKILL', timeoutMs: 5000 }),
    restart: async () => {
      if (disposed) throw new Error('agent: restart after stop() without keepData')
      await killAndWait(current(), { timeoutMs: 15_000 })
      retire()
      await launch()
    },
  }
}
