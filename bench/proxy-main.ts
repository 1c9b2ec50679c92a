// The counting proxy (test/helpers/proxy.ts) as its own process, so it can run inside a network
// namespace made by the benchmark (behind the shaped link, next to the registry).
//
//   node dist/bench/proxy-main.js HOST PORT UPSTREAM_URL
// prints {"ready":true,...}; reads commands on stdin, one a line, and answers with one JSON line:
//   "stats ID" → {"id":ID,"totalBytes":N,"requests":N,"blobGets":N}
//   "reset ID" → {"id":ID,"reset":true}
//   "log ID"   → {"id":ID,"log":[{client,path,range,status,bytes,startedAt,ms},…]} (blob GETs)
// Stops when stdin closes.

import { createInterface } from 'node:readline'
import { startProxy } from '../test/helpers/proxy.js'

const [host, port, upstream] = process.argv.slice(2)
if (host === undefined || port === undefined || upstream === undefined) {
  process.stderr.write('usage: proxy-main HOST PORT UPSTREAM_URL\n')
  process.exit(2)
}
const proxy = await startProxy(upstream, { host, port: Number(port) })
process.stdout.write(JSON.stringify({ ready: true, url: proxy.url }) + '\n')

const rl = createInterface({ input: process.stdin })
rl.on('line', (line) => {
  const [cmd, id] = line.trim().split(/\s+/)
  if (cmd === 'stats') {
    const reqs = proxy.requests()
    process.stdout.write(JSON.stringify({
      id,
      totalBytes: proxy.totalBytes(),
      requests: reqs.length,
      blobGets: reqs.filter(r => r.method === 'GET' && r.path.includes('/blobs/')).length,
    }) + '\n')
  } else if (cmd === 'log') {
    const log = proxy.requests().filter(r => r.method === 'GET' && r.path.includes('/blobs/'))
      .map(r => ({ client: r.client, path: r.path, range: r.range, status: r.status, bytes: r.bytes, startedAt: r.startedAt, ms: r.ms }))
    process.stdout.write(JSON.stringify({ id, log }) + '\n')
  } else if (cmd === 'reset') {
    proxy.reset()
    process.stdout.write(JSON.stringify({ id, reset: true }) + '\n')
  }
})
rl.on('close', () => { void proxy.stop().then(() => process.exit(0)) })
