// Diagnostic for the peer data plane: how fast can bytes go from one process to another over
// loopback, encrypted, with sha256 on the receiver — with the transports layerd could use for
// bulk bytes. Separate processes (sender serves a file from the page cache).
//
//   npm run build && node dist/bench/dataplane-probe.js FILE [runs=3]
//
// Prints one line per transport: `name: MB/s (median of runs)` with the receiving process's CPU
// seconds per GB, and `DATAPLANE_PROBE {json}`.

import { fork } from 'node:child_process'
import { createHash } from 'node:crypto'
import { createReadStream, statSync } from 'node:fs'
import { open } from 'node:fs/promises'
import { Agent as HttpsAgent, createServer as createHttpsServer, request as httpsRequest } from 'node:https'
import { connect as netConnect, createServer as netCreateServer } from 'node:net'
import { connect as tlsConnect, createServer as tlsCreateServer, type TLSSocket } from 'node:tls'
import { Agent, request } from 'undici'
import { median } from './lib.js'
import { ConnectionPool } from '../src/p2p/data/tls-http.js'

const PSK = Buffer.alloc(32, 7)
const IDENTITY = 'probe'
const TLS = { ciphers: 'TLS_AES_128_GCM_SHA256', minVersion: 'TLSv1.3' as const }
const CHUNK = 1024 * 1024

interface Ports { tcp: number, tls: number, https: number }

async function serve (file: string): Promise<void> {
  const size = statSync(file).size
  // Plain TCP and PSK-TLS: every connection gets the whole file.
  const stream = (sock: NodeJS.WritableStream & { on: (e: string, f: () => void) => void }): void => {
    sock.on('error', () => {})
    createReadStream(file, { highWaterMark: CHUNK }).pipe(sock)
  }
  const tcp = netCreateServer(stream)
  const tls = tlsCreateServer({ ...TLS, pskCallback: (_s: TLSSocket, id: string) => id === IDENTITY ? PSK : null }, stream)
  // HTTPS (HTTP/1.1 over PSK-TLS): GET / answers the file, keep-alive.
  const fh = await open(file, 'r')
  const https = createHttpsServer({ ...TLS, pskCallback: (_s: TLSSocket, id: string) => id === IDENTITY ? PSK : null } as any, (_req, res) => {
    res.writeHead(200, { 'content-length': size })
    createReadStream('', { fd: fh.fd, start: 0, highWaterMark: CHUNK, autoClose: false }).pipe(res)
  })
  const listen = async (s: { listen: (p: number, h: string, cb: () => void) => void, address: () => any }): Promise<number> => await new Promise(resolve => s.listen(0, '127.0.0.1', () => resolve(s.address().port)))
  const ports: Ports = { tcp: await listen(tcp), tls: await listen(tls), https: await listen(https) }
  process.send!(ports)
  process.on('message', () => process.exit(0))
}

async function drain (sock: NodeJS.ReadableStream): Promise<{ bytes: number, sha: string }> {
  const h = createHash('sha256')
  let bytes = 0
  await new Promise<void>((resolve, reject) => {
    sock.on('data', (b: Buffer) => { bytes += b.length; h.update(b) })
    sock.on('end', resolve)
    sock.on('error', reject)
  })
  return { bytes, sha: h.digest('hex') }
}

async function main (): Promise<void> {
  const file = process.argv[2]
  if (file === undefined) { process.stderr.write('usage: dataplane-probe FILE [runs]\n'); process.exit(2) }
  const runs = Number(process.argv[3] ?? 3)
  const size = statSync(file).size
  const child = fork(new URL(import.meta.url).pathname, ['serve', file])
  const ports = await new Promise<Ports>(resolve => child.once('message', (m) => resolve(m as Ports)))
  const agent = new Agent({ connect: { ...TLS, pskCallback: () => ({ psk: PSK, identity: IDENTITY }), checkServerIdentity: () => undefined, rejectUnauthorized: false } as any })
  const httpsAgent = new HttpsAgent({ keepAlive: true, maxCachedSessions: 0 })
  const ways: Record<string, () => Promise<number>> = {
    'plain TCP + sha256': async () => (await drain(netConnect(ports.tcp, '127.0.0.1'))).bytes,
    'TLS 1.3 PSK AES-128-GCM, raw socket + sha256': async () => (await drain(tlsConnect({ port: ports.tls, host: '127.0.0.1', ...TLS, pskCallback: () => ({ psk: PSK, identity: IDENTITY }), checkServerIdentity: () => undefined }))).bytes,
    'HTTPS (PSK) + node:https client + sha256': async () => await new Promise<number>((resolve, reject) => {
      const req = httpsRequest({ host: '127.0.0.1', port: ports.https, path: '/', agent: httpsAgent, ...TLS, pskCallback: () => ({ psk: PSK, identity: IDENTITY }), checkServerIdentity: () => undefined } as any, (res) => {
        drain(res).then(r => resolve(r.bytes), reject)
      })
      req.on('error', reject)
      req.end()
    }),
    // What the data fetch worker does: the body read by OpenSSL straight into 4 MiB pieces.
    'HTTPS (PSK) + layerd\'s client (tls-http.ts, reads into pieces) + sha256': async () => {
      const pool = new ConnectionPool({ host: '127.0.0.1', port: ports.https, ...TLS, pskCallback: () => ({ psk: PSK, identity: IDENTITY }), checkServerIdentity: () => undefined }, 1, 30_000)
      const piece = Buffer.allocUnsafe(4 * 1024 * 1024)
      const h = createHash('sha256')
      let fill = 0
      let n = 0
      try {
        await pool.get('/', {}, () => ({ target: () => piece.subarray(fill), wrote: (k) => { h.update(piece.subarray(fill, fill + k)); n += k; fill = (fill + k) % piece.length } }))
      } finally { pool.close() }
      h.digest()
      return n
    },
    'HTTPS (PSK) + undici + sha256': async () => {
      const res = await request(`https://127.0.0.1:${ports.https}/`, { dispatcher: agent })
      const h = createHash('sha256')
      let n = 0
      for await (const c of res.body) { n += c.length; h.update(c) }
      return n
    }
  }
  const out: Record<string, number> = {}
  for (const [name, fn] of Object.entries(ways)) {
    const mbs: number[] = []
    const cpu: number[] = []
    for (let i = 0; i < runs; i++) {
      const t0 = performance.now()
      const c0 = process.cpuUsage()
      const n = await fn()
      const c = process.cpuUsage(c0)
      if (n !== size) throw new Error(`${name}: ${n} of ${size} bytes`)
      mbs.push(size / 1e6 / ((performance.now() - t0) / 1000))
      cpu.push((c.user + c.system) / 1e6 / (size / 1e9))
    }
    out[name] = median(mbs)
    console.log(`${name}: ${out[name].toFixed(0)} MB/s [${mbs.map(x => x.toFixed(0)).join(' ')}], receiver ${median(cpu).toFixed(2)} CPU s/GB`)
  }
  console.log(`DATAPLANE_PROBE ${JSON.stringify(out)}`)
  await agent.close()
  child.send('stop')
}

if (process.argv[2] === 'serve') await serve(process.argv[3] as string)
else await main()
