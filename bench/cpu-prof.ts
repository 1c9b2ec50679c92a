// Preloaded into agents by bench/run.ts when BENCH_CPU_PROF=DIR (NODE_OPTIONS=--import ...;
// `--cpu-prof` itself is not allowed in NODE_OPTIONS): samples the CPU with the in-process
// inspector and writes DIR/agent-<pid>.cpuprofile when the process exits. With BENCH_HEAP_PROF=1
// it also samples allocations (collected ones included: this finds what keeps the GC busy) into
// DIR/agent-<pid>.heapprofile.

import { Session } from 'node:inspector'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

const dir = process.env.BENCH_CPU_PROF
if (dir !== undefined && dir !== '') {
  const session = new Session()
  session.connect()
  session.post('Profiler.enable')
  session.post('Profiler.setSamplingInterval', { interval: 500 })
  session.post('Profiler.start')
  const heap = process.env.BENCH_HEAP_PROF === '1'
  if (heap) {
    session.post('HeapProfiler.enable')
    session.post('HeapProfiler.startSampling', { samplingInterval: 64 * 1024, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true } as object)
  }
  process.once('exit', () => {
    // The in-process session answers synchronously, so this works inside 'exit'.
    session.post('Profiler.stop', (err, res) => {
      if (err !== null || res === undefined) return
      mkdirSync(dir, { recursive: true })
      writeFileSync(join(dir, `agent-${process.pid}.cpuprofile`), JSON.stringify(res.profile))
    })
    if (heap) {
      session.post('HeapProfiler.stopSampling', (err, res) => {
        if (err !== null || res === undefined) return
        writeFileSync(join(dir, `agent-${process.pid}.heapprofile`), JSON.stringify(res.profile))
      })
    }
  })
}
