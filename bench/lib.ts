// Small measuring tools for bench/run.ts: peak RSS of a process, curl as the HTTP client,
// a hashing Node HTTP client, medians, formatting.

import { createHash } from 'node:crypto'
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { request as httpRequest } from 'node:http'
import { run } from '../test/helpers/proc.js'

export const MiB = 1024 * 1024

export function median (xs: number[]): number {
  if (xs.length === 0) return NaN
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 === 1 ? s[m] as number : ((s[m - 1] as number) + (s[m] as number)) / 2
}

/** VmHWM / VmRSS of a process in MB (10^6 bytes), or NaN when it is gone. */
export function memOf (pid: number): { hwmMB: number, rssMB: number } {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8')
    const kb = (k: string): number => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(s)?.[1] ?? NaN)
    return { hwmMB: kb('VmHWM') * 1024 / 1e6, rssMB: kb('VmRSS') * 1024 / 1e6 }
  } catch { return { hwmMB: NaN, rssMB: NaN } }
}

/**
 * Where a process's resident memory is, from /proc/PID/smaps, in MB: the node binary's pages
 * (`binary`), the malloc heap of the main thread (`brk`), anonymous maps under 1 MiB (mostly V8
 * heap pages of its isolates: `v8`), larger anonymous maps (thread arenas, big buffers: `big`),
 * other files (`files`).
 */
export function rssParts (pid: number): Record<string, number> {
  const out: Record<string, number> = {}
  let cur = ''
  let txt: string
  try { txt = readFileSync(`/proc/${pid}/smaps`, 'utf8') } catch { return out }
  for (const line of txt.split('\n')) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ \S+\s*(.*)$/.exec(line)
    if (m !== null) {
      const mb = (parseInt(m[2]!, 16) - parseInt(m[1]!, 16)) / 1048576
      const name = m[3] ?? ''
      cur = name === '' ? (mb < 1 ? 'v8' : 'big') : name === '[heap]' ? 'brk' : /\/node$/.test(name) ? 'binary' : name.startsWith('/') ? 'files' : 'other'
      continue
    }
    const r = /^Rss:\s+(\d+) kB/.exec(line)
    if (r !== null && cur !== '') out[cur] = (out[cur] ?? 0) + Number(r[1]) * 1024 / 1e6
  }
  return out
}

/** Samples the RSS of some processes and keeps, for each, where its memory was at its highest. */
export class PeakParts {
  private readonly peak = new Map<number, { rss: number, parts: Record<string, number> }>()
  private readonly timer: NodeJS.Timeout
  constructor (private readonly pids: number[], everyMs = 500) {
    this.timer = setInterval(() => { this.sample() }, everyMs)
  }

  private sample (): void {
    for (const pid of this.pids) {
      const rss = memOf(pid).rssMB
      if (!Number.isFinite(rss) || rss <= (this.peak.get(pid)?.rss ?? 0)) continue
      this.peak.set(pid, { rss, parts: rssParts(pid) })
    }
  }

  /** For each pid: the highest RSS sampled and its parts (`binary 47, v8 60, ...`). */
  stop (): Map<number, { rss: number, parts: string }> {
    clearInterval(this.timer)
    this.sample()
    const out = new Map<number, { rss: number, parts: string }>()
    for (const [pid, p] of this.peak) out.set(pid, { rss: p.rss, parts: Object.entries(p.parts).filter(([, v]) => v >= 1).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v.toFixed(0)}`).join(', ') })
    return out
  }
}

/**
 * Peak RSS of `pid` over a stretch of work: resets the kernel's high-water mark (clear_refs 5)
 * at start and also samples VmRSS every 50 ms, in case the reset is not allowed.
 */
export class PeakRss {
  private max = 0
  private timer: NodeJS.Timeout
  readonly resetOk: boolean
  constructor (private readonly pid: number) {
    let ok = true
    try { writeFileSync(`/proc/${pid}/clear_refs`, '5') } catch { ok = false }
    this.resetOk = ok
    this.sample()
    this.timer = setInterval(() => this.sample(), 50)
  }

  private sample (): void {
    const m = memOf(this.pid)
    if (Number.isFinite(m.rssMB)) this.max = Math.max(this.max, m.rssMB)
  }

  /** Peak RSS in MB since construction. */
  stop (): number {
    clearInterval(this.timer)
    this.sample()
    const hwm = memOf(this.pid).hwmMB
    return this.resetOk && Number.isFinite(hwm) ? Math.max(hwm, this.max) : this.max
  }
}

export interface CurlResult { status: number, bytes: number, secs: number }

/** GET with curl into /dev/null (optionally inside a network namespace); bounded. */
export async function curlGet (url: string, opts: { netns?: string, timeoutMs?: number } = {}): Promise<CurlResult> {
  const args = ['-s', '--noproxy', '*', '-o', '/dev/null', '-w', '%{http_code} %{size_download} %{time_total}', url]
  const [cmd, full] = opts.netns === undefined ? ['curl', args] : ['ip', ['netns', 'exec', opts.netns, 'curl', ...args]]
  const r = await run(cmd, full, { timeoutMs: opts.timeoutMs ?? 300_000 })
  const [st, by, t] = r.stdout.trim().split(' ')
  const res = { status: Number(st), bytes: Number(by), secs: Number(t) }
  if (r.code !== 0 || res.status !== 200) throw new Error(`curl ${url}: exit ${r.code}, status ${st}: ${r.stderr.slice(-500)}`)
  return res
}

/** sha256 of a GET body (read with a Node client, in this process). */
export async function getSha256 (url: string, timeoutMs = 300_000): Promise<{ status: number, bytes: number, sha256: string, ms: number }> {
  const u = new URL(url)
  const t0 = performance.now()
  return await new Promise((resolve, reject) => {
    const req = httpRequest({ host: u.hostname, port: u.port, path: u.pathname + u.search, agent: false, headers: { connection: 'close' } }, (res) => {
      const h = createHash('sha256')
      let bytes = 0
      res.on('data', (c: Buffer) => { bytes += c.length; h.update(c) })
      res.on('end', () => { clearTimeout(timer); resolve({ status: res.statusCode ?? 0, bytes, sha256: h.digest('hex'), ms: performance.now() - t0 }) })
      res.on('error', reject)
    })
    const timer = setTimeout(() => req.destroy(new Error(`timeout ${url}`)), timeoutMs)
    req.on('error', (e) => { clearTimeout(timer); reject(e) })
    req.end()
  })
}

export async function getJson<T> (url: string): Promise<T> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) })
  return await res.json() as T
}

export const mbps = (bytes: number, secs: number): number => bytes / 1e6 / secs
export const f1 = (x: number): string => Number.isFinite(x) ? x.toFixed(1) : '-'
export const f2 = (x: number): string => Number.isFinite(x) ? x.toFixed(2) : '-'

const CLK_TCK = 100 // getconf CLK_TCK on Linux x86_64 and arm64

/** CPU seconds (user + system, all threads) a process has used so far, or NaN when it is gone. */
export function cpuSecs (pid: number): number {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // Fields after the command name (which may contain spaces) start after the last ')'.
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ')
    return (Number(f[11]) + Number(f[12])) / CLK_TCK
  } catch { return NaN }
}

/** CPU seconds a set of processes use over a stretch of work. */
export class CpuMeter {
  private readonly start: number[]
  constructor (private readonly pids: number[]) { this.start = pids.map(cpuSecs) }
  stop (): number {
    return this.pids.reduce((n, pid, i) => n + (cpuSecs(pid) - (this.start[i] as number)), 0)
  }
}

/** CPU seconds per thread name of `pid` (libuv pool threads, workers, V8 helpers), from /proc. */
function threadSecs (pid: number): Map<string, number> {
  const out = new Map<string, number>()
  let tasks: string[] = []
  try { tasks = readdirSync(`/proc/${pid}/task`) } catch { return out }
  for (const t of tasks) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${t}/stat`, 'utf8')
      const name = readFileSync(`/proc/${pid}/task/${t}/comm`, 'utf8').trim()
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      out.set(`${t === String(pid) ? 'main' : name}#${t}`, (Number(f[11]) + Number(f[12])) / CLK_TCK)
    } catch {}
  }
  return out
}

/** Where a process's CPU went while it ran: seconds per thread (name#tid; main is the event loop). */
export class ThreadCpuMeter {
  private readonly start: Map<string, number>
  constructor (private readonly pid: number) { this.start = threadSecs(pid) }
  stop (): string {
    const by = new Map<string, number>()
    for (const [k, v] of threadSecs(this.pid)) {
      const d = v - (this.start.get(k) ?? 0)
      if (d > 0) by.set(k, d)
    }
    return [...by].sort((x, y) => y[1] - x[1]).map(([n, s]) => `${n} ${s.toFixed(2)}`).join(', ')
  }
}

/** CPU seconds per GB (10^9 bytes) moved. */
export const perGB = (cpu: number, bytes: number): number => cpu / (bytes / 1e9)
