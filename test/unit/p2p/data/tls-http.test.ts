// The data plane's HTTP/1.1-over-TLS client (src/p2p/data/tls-http.ts), one edge case per test,
// against real TLS-PSK servers on port 0: node:https where the server is well behaved (as the
// data server is), a raw TLS server writing crafted bytes where it is not.

import { describe, it, after } from 'node:test'
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { createServer as createTlsServer, type Server as TlsServer, type TLSSocket } from 'node:tls'
import { connect as netConnect, createServer as createNetServer } from 'node:net'
import { ConnectionPool, ExchangeError, type BodySink, type ResponseHead } from '../../../../src/p2p/data/tls-http.js'
import { DATA_TLS } from '../../../../src/p2p/data/keys.js'
import { within } from '../fixtures.js'

const PSK = randomBytes(32)
const ID = 'client-id'
const pskCallback = (_s: TLSSocket, id: string): Buffer | null => id === ID ? PSK : null
const servers: Array<HttpsServer | TlsServer> = []
after(() => { for (const s of servers) { (s as HttpsServer).closeAllConnections?.(); s.close() } })

async function listen (s: HttpsServer | TlsServer): Promise<number> {
  servers.push(s)
  s.listen(0, '127.0.0.1')
  await once(s, 'listening')
  return (s.address() as { port: number }).port
}

/** An https server like the data server: Content-Length bodies. Counts the TLS connections it accepted. */
async function httpsServer (handler: (req: IncomingMessage, res: ServerResponse) => void, opts: { keepAliveTimeout?: number } = {}): Promise<{ port: number, connections: () => number, closed: () => number }> {
  let n = 0
  let closed = 0
  const s = createHttpsServer({ ...DATA_TLS, pskCallback, keepAliveTimeout: opts.keepAliveTimeout ?? 30_000 } as any, handler)
  s.on('secureConnection', (sock: TLSSocket) => { n++; sock.on('close', () => { closed++ }) })
  return { port: await listen(s), connections: () => n, closed: () => closed }
}

/** A TLS server that answers every request with `reply` (bytes written as they are). */
async function rawServer (reply: (request: string) => Buffer | string): Promise<number> {
  return await listen(createTlsServer({ ...DATA_TLS, pskCallback } as any, (sock) => {
    let req = ''
    sock.on('data', (b: Buffer) => {
      req += b.toString('latin1')
      if (req.includes('\r\n\r\n')) { sock.write(reply(req)); req = '' }
    })
    sock.on('error', () => {})
  }))
}

const pool = (port: number, max = 2, timeoutMs = 5000): ConnectionPool =>
  new ConnectionPool({ host: '127.0.0.1', port, ...DATA_TLS, pskCallback: () => ({ psk: PSK, identity: ID }), checkServerIdentity: () => undefined }, max, timeoutMs)

/** A sink collecting the body in pieces of `step` bytes (a fresh buffer each, like pieces). */
function collector (step = 64 * 1024): { sink: BodySink, bytes: () => Buffer } {
  const parts: Buffer[] = []
  let buf = Buffer.alloc(step)
  let fill = 0
  return {
    sink: { target: () => buf.subarray(fill), wrote: (n) => { fill += n; if (fill === buf.length) { parts.push(buf); buf = Buffer.alloc(step); fill = 0 } } },
    bytes: () => Buffer.concat([...parts, buf.subarray(0, fill)])
  }
}

async function get (p: ConnectionPool, path = '/x', signal?: AbortSignal): Promise<{ head: ResponseHead, body: Buffer }> {
  const c = collector()
  let head!: ResponseHead
  await p.get(path, { range: 'bytes=0-1' }, (h) => { head = h; return c.sink }, undefined, signal)
  return { head, body: c.bytes() }
}

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')

describe('data plane client: HTTP/1.1 over TLS-PSK', () => {
  it('reads a body exactly into the consumer\'s buffers, and reuses the connection for the next request', async () => {
    const data = randomBytes(3 * 1024 * 1024 + 12345)
    const srv = await httpsServer((req, res) => {
      assert.equal(req.headers.range, 'bytes=0-1')
      res.writeHead(206, { 'content-length': data.length, 'content-range': `bytes 0-${data.length - 1}/${data.length}` })
      res.end(data)
    })
    const p = pool(srv.port)
    for (let i = 0; i < 3; i++) {
      const r = await get(p)
      assert.equal(r.head.status, 206)
      assert.equal(r.head.headers.get('content-range'), `bytes 0-${data.length - 1}/${data.length}`)
      assert.equal(sha(r.body), sha(data))
    }
    assert.equal(srv.connections(), 1, 'one keep-alive connection for three requests')
    p.close()
  })

  it('an error status comes with its body', async () => {
    const srv = await httpsServer((_req, res) => { const b = JSON.stringify({ code: 'BUSY', message: 'later' }); res.writeHead(429, { 'content-length': Buffer.byteLength(b) }); res.end(b) })
    const p = pool(srv.port)
    const r = await get(p)
    assert.equal(r.head.status, 429)
    assert.deepEqual(JSON.parse(r.body.toString()), { code: 'BUSY', message: 'later' })
    p.close()
  })

  it('a connection the server closed while idle is replaced, and the request goes through', async () => {
    const srv = await httpsServer((_req, res) => { res.writeHead(200, { 'content-length': 2 }); res.end('ok') }, { keepAliveTimeout: 100 })
    const p = pool(srv.port)
    assert.equal((await get(p)).body.toString(), 'ok')
    // Until the server closed it (Node adds about a second to keepAliveTimeout).
    for (let i = 0; i < 50 && srv.closed() === 0; i++) await new Promise(resolve => setTimeout(resolve, 100))
    assert.equal(srv.closed(), 1)
    assert.equal((await get(p)).body.toString(), 'ok')
    assert.equal(srv.connections(), 2)
    p.close()
  })

  it('a request on a reused connection that the server drops before answering is sent again once, on a new connection', async () => {
    let accepted = 0
    // Each connection answers its first request; a second one on it is dropped unanswered (a
    // server closing an idle connection just as the request went out).
    const port = await listen(createTlsServer({ ...DATA_TLS, pskCallback } as any, (sock) => {
      accepted++
      let served = 0
      sock.on('data', () => { if (served++ === 0) sock.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok'); else sock.destroy() })
      sock.on('error', () => {})
    }))
    const p = pool(port, 1)
    assert.equal((await get(p)).body.toString(), 'ok')
    assert.equal((await get(p)).body.toString(), 'ok')
    assert.equal(accepted, 2)
    p.close()
  })

  it('the consumer can pause reading (flow control) and resume later; no byte is lost', async () => {
    const data = randomBytes(2 * 1024 * 1024)
    const srv = await httpsServer((_req, res) => { res.writeHead(206, { 'content-length': data.length }); res.end(data) })
    const p = pool(srv.port)
    const c = collector(256 * 1024)
    let conn!: { pause: () => void, resume: () => void }
    let pauses = 0
    const sink: BodySink = {
      target: c.sink.target,
      wrote: (n) => {
        const before = c.bytes().length
        c.sink.wrote(n)
        // Every 512 KiB: stop reading for a moment.
        if (Math.floor((before + n) / (512 * 1024)) > Math.floor(before / (512 * 1024))) { pauses++; conn.pause(); setTimeout(() => conn.resume(), 50) }
      }
    }
    await p.get('/x', {}, () => sink, (x) => { conn = x })
    assert.ok(pauses >= 3)
    assert.equal(sha(c.bytes()), sha(data))
    p.close()
  })

  it('a response without Content-Length, with a head that never ends, or with bytes beyond its body is a protocol error', async () => {
    const cases: Array<[string, string | Buffer]> = [
      ['chunked', 'HTTP/1.1 206 Partial Content\r\ntransfer-encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n'],
      ['no length', 'HTTP/1.1 206 Partial Content\r\n\r\nabc'],
      ['not http', 'SSH-2.0-OpenSSH\r\n\r\n'],
      ['endless head', 'HTTP/1.1 200 OK\r\n' + 'x-filler: ' + 'a'.repeat(20_000) + '\r\n\r\n'],
      ['more than announced', 'HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nokAND MORE']
    ]
    for (const [what, reply] of cases) {
      const p = pool(await rawServer(() => reply))
      await assert.rejects(get(p), (err: unknown) => err instanceof ExchangeError && err.code === 'PROTOCOL', what)
      p.close()
    }
  })

  it('a server that stops mid-body fails the request once the connection was silent for its timeout', async () => {
    const port = await rawServer(() => 'HTTP/1.1 206 Partial Content\r\ncontent-length: 100000\r\n\r\n' + 'x'.repeat(1000))
    const p = pool(port, 1, 300)
    const t0 = Date.now()
    await assert.rejects(get(p), (err: unknown) => err instanceof ExchangeError && err.code === 'ETIMEDOUT')
    assert.ok(Date.now() - t0 < 3000)
    p.close()
  })

  it('a server that never completes the handshake, or closes the connection during it, fails the request (no hang)', async () => {
    const silent = await listen(createNetServer((sock) => { sock.on('error', () => {}) }) as unknown as TlsServer)
    const closing = await listen(createNetServer((sock) => { sock.destroy() }) as unknown as TlsServer)
    for (const [port, code] of [[silent, 'ETIMEDOUT'], [closing, undefined]] as const) {
      const p = pool(port, 1, 300)
      await assert.rejects(within(get(p), 5000, 'get'), (err: unknown) => err instanceof ExchangeError && (code === undefined || err.code === code))
      p.close()
    }
  })

  it('a request given up during the handshake frees its connection slot for the next one', async () => {
    const srv = await httpsServer((_req, res) => { res.writeHead(200, { 'content-length': 2 }); res.end('ok') })
    // The first connection is held silent (a busy peer); later ones go through to the server.
    let n = 0
    const front = await listen(createNetServer((sock) => {
      sock.on('error', () => {})
      if (n++ === 0) return
      const up = netConnect(srv.port, '127.0.0.1')
      up.on('error', () => sock.destroy())
      sock.pipe(up).pipe(sock)
    }) as unknown as TlsServer)
    const p = pool(front, 1, 30_000)
    let conn!: { destroy: (err?: ExchangeError) => void }
    const first = p.get('/x', {}, () => collector().sink, (c) => { conn = c })
    await new Promise(resolve => setTimeout(resolve, 100))
    conn.destroy(new ExchangeError('cancelled', 'ABORTED')) // what the fetch worker does on cancel
    await assert.rejects(within(first, 5000, 'get'), (err: unknown) => err instanceof ExchangeError)
    assert.equal((await within(get(p), 5000, 'get')).body.toString(), 'ok', 'the one slot is free again')
    p.close()
  })

  it('a wrong key fails at the handshake, and nothing is retried', async () => {
    const srv = await httpsServer((_req, res) => { res.writeHead(200, { 'content-length': 0 }); res.end() })
    const p = new ConnectionPool({ host: '127.0.0.1', port: srv.port, ...DATA_TLS, pskCallback: () => ({ psk: randomBytes(32), identity: ID }), checkServerIdentity: () => undefined }, 2, 5000)
    await assert.rejects(get(p), (err: unknown) => err instanceof ExchangeError && err.code !== 'PROTOCOL')
    assert.equal(srv.connections(), 0)
    p.close()
  })

  it('a request waiting for a connection can be given up', async () => {
    let release!: () => void
    const srv = await httpsServer((_req, res) => {
      release = () => { res.writeHead(200, { 'content-length': 2 }); res.end('ok') }
    })
    const p = pool(srv.port, 1)
    const first = get(p)
    await new Promise(resolve => setTimeout(resolve, 200))
    const ac = new AbortController()
    const second = get(p, '/x', ac.signal)
    ac.abort()
    await assert.rejects(second, (err: unknown) => err instanceof ExchangeError && err.code === 'ABORTED')
    release()
    assert.equal((await first).body.toString(), 'ok')
    p.close()
  })
})
