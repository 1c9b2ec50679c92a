// Loopback throughput of one fetchRange between two processes, next to a plain TCP socket.
// Usage: npm run build && node dist/test/unit/p2p/bench.js [MiB=256] [runs=3]
import '../../../src/polyfill.js'
import { fork } from 'node:child_process'
import { createHash } from 'node:crypto'
import { connect, createServer } from 'node:net'
import { FakeLocal, cleanupDirs, random, startNode, waitFor } from './fixtures.js'

const MiB = 1024 * 1024

async function serve (mib: number): Promise<void> {
  const data = random(mib * MiB)
  const local = new FakeLocal()
  local.chunkSize = 256 * 1024
  const digest = local.add(data)
  const n = await startNode({ local })
  const tcp = createServer(sock => {
    let off = 0
    const pump = (): void => {
      while (off < data.byteLength) {
        const chunk = data.subarray(off, off + 256 * 1024)
        off += chunk.byteLength
        if (!sock.write(chunk)) { sock.once('drain', pump); return }
      }
      sock.end()
    }
    pump()
  })
  await new Promise<void>(resolve => tcp.listen(0, '127.0.0.1', resolve))
  process.send!({ addr: n.addr, peerId: n.net.peerId, digest, tcpPort: (tcp.address() as { port: number }).port })
  process.on('message', () => { void n.net.stop().then(() => { tcp.close(); cleanupDirs(); process.exit(0) }) })
}

async function main (): Promise<void> {
  const mib = Number(process.argv[2] ?? 256)
  const runs = Number(process.argv[3] ?? 3)
  const child = fork(new URL(import.meta.url).pathname, ['serve', String(mib)])
  const info = await new Promise<{ addr: string, peerId: string, digest: string, tcpPort: number }>(resolve => child.once('message', m => resolve(m as never)))
  const b = await startNode({ peers: [info.addr] })
  await waitFor(() => b.net.holders(info.digest).length === 1, 10_000, 'inventory')
  const size = mib * MiB
  const rate = (ms: number): number => size / 1e6 / (ms / 1000)
  const rows: string[] = []
  for (let i = 0; i < runs; i++) {
    let t0 = performance.now()
    let n = 0
    await new Promise<void>((resolve, reject) => {
      const c = connect(info.tcpPort, '127.0.0.1')
      c.on('data', (buf: Buffer) => { n += buf.byteLength })
      c.on('end', resolve)
      c.on('error', reject)
    })
    const tcpMBs = rate(performance.now() - t0)
    if (n !== size) throw new Error('tcp short')

    t0 = performance.now()
    n = 0
    for await (const c of b.net.fetchRange(info.peerId, info.digest, 0, size)) n += c.byteLength
    const p2pMBs = rate(performance.now() - t0)
    if (n !== size) throw new Error('p2p short')

    t0 = performance.now()
    const h = createHash('sha256')
    for await (const c of b.net.fetchRange(info.peerId, info.digest, 0, size)) h.update(c)
    const p2pHashMBs = rate(performance.now() - t0)
    if ('sha256:' + h.digest('hex') !== info.digest) throw new Error('digest mismatch')
    rows.push(`run ${i + 1}: tcp ${tcpMBs.toFixed(0)} MB/s, fetchRange ${p2pMBs.toFixed(0)} MB/s, fetchRange+sha256 ${p2pHashMBs.toFixed(0)} MB/s`)
  }
  console.log(`${mib} MiB, loopback, separate processes\n${rows.join('\n')}`)
  child.send('stop')
  await b.net.stop()
  cleanupDirs()
}

if (process.argv[2] === 'serve') await serve(Number(process.argv[3]))
else await main()
