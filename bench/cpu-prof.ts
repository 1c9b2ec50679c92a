// Preloaded into agents by bench/run.ts when BENCH_CPU_PROF=DIR (NODE_OPTIONS=--import ...;
// `--cpu-prof` itself is not allowed in NODE_OPTIONS). BENCH_PROF says what to record (comma
// list, default `cpu`):
//   cpu  samples the main thread's CPU with the in-process inspector; DIR/agent-<pid>.cpuprofile
//        is written when the process exits
//   gc   counts garbage collections and their pause time per thread (main and each worker: the
//        preload runs in workers too); DIR/gc-<pid>-<threadId>.json, rewritten every 2 s
//   promoted  samples the main thread's allocations that a mark-compact collected (see below)

import { Session } from 'node:inspector'
import { PerformanceObserver } from 'node:perf_hooks'
import { threadId, isMainThread } from 'node:worker_threads'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

const dir = process.env.BENCH_CPU_PROF
const kinds = new Set((process.env.BENCH_PROF ?? 'cpu').split(','))
if (dir !== undefined && dir !== '') {
  mkdirSync(dir, { recursive: true })
  // One in-process inspector session for both profilers; it answers synchronously, so the
  // profiles can be collected inside 'exit'.
  const session = isMainThread && (kinds.has('cpu') || kinds.has('promoted')) ? new Session() : undefined
  session?.connect()
  const collect = (method: string, file: string): void => {
    process.once('exit', () => {
      session!.post(method, (err, res: { profile?: unknown } | undefined) => {
        if (err === null && res?.profile !== undefined) writeFileSync(join(dir, file), JSON.stringify(res.profile))
      })
    })
  }
  if (session !== undefined && kinds.has('cpu')) {
    session.post('Profiler.enable')
    session.post('Profiler.setSamplingInterval', { interval: 500 })
    session.post('Profiler.start')
    collect('Profiler.stop', `agent-${process.pid}.cpuprofile`)
  }
  if (session !== undefined && kinds.has('promoted')) {
    // Allocations that survived the scavenges and died in a mark-compact: what makes V8 run
    // full collections. DIR/agent-<pid>.heapprofile (Chrome DevTools' sampling heap profile).
    session.post('HeapProfiler.enable')
    session.post('HeapProfiler.startSampling', { samplingInterval: 128 * 1024, includeObjectsCollectedByMajorGC: true } as object)
    collect('HeapProfiler.stopSampling', `agent-${process.pid}.heapprofile`)
  }
  if (kinds.has('gc')) {
    const names: Record<number, string> = { 1: 'minor', 2: 'major', 4: 'incremental', 8: 'weakcb' }
    const stats: Record<string, { n: number, ms: number }> = {}
    new PerformanceObserver(list => {
      for (const e of list.getEntries()) {
        const d = (e as { detail?: { kind?: number, flags?: number } }).detail
        // flags: why V8 collected (perf_hooks constants.NODE_PERFORMANCE_GC_FLAGS_*; 32 = external memory)
        const k = `${names[d?.kind ?? 0] ?? 'other'}${d?.flags !== undefined && d.flags !== 0 ? `:${d.flags}` : ''}`
        const s = stats[k] ?? (stats[k] = { n: 0, ms: 0 })
        s.n++; s.ms += e.duration
      }
    }).observe({ entryTypes: ['gc'] })
    const write = (): void => { writeFileSync(join(dir, `gc-${process.pid}-${threadId}.json`), JSON.stringify({ pid: process.pid, threadId, at: Date.now(), stats })) }
    setInterval(write, 2000).unref()
    process.once('exit', write)
  }
}
