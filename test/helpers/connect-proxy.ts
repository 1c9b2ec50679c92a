// A test-owned forward proxy on 127.0.0.1 port 0, as an office has one: CONNECT tunnels (what
// HTTPS clients and undici's ProxyAgent use) and plain-HTTP requests in absolute form
// (`GET http://host:port/path`). It resolves host names itself from a table (`hosts`: e.g.
// registry.test → 127.0.0.1), so a client behind it needs no DNS for them, and it never opens a
// connection anywhere but loopback: a target that is neither in the table nor a loopback address
// is refused (403). It logs every request, counts bytes, can require Basic proxy credentials (407
// otherwise) and can refuse everything on demand.

import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http'
import { connect as tcpConnect, isIP, type Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import { closeServer, listenLoopback } from './ports.js'
import { own, type CleanupScope } from './proc.js'

export interface ConnectProxyOptions {
  /** Host name → address the proxy connects to (must be loopback). */
  hosts?: Record<string, string>
  /** Require `Proxy-Authorization: Basic base64(user:pass)`. */
  auth?: { username: string, password: string }
  cleanup?: CleanupScope
}

export interface ProxyLog {
  /** A CONNECT tunnel, or one plain-HTTP request forwarded. */
  kind: 'connect' | 'forward'
  /** host:port as the client asked for it. */
  target: string
  /** The proxy's answer to a CONNECT; the target's status for a forwarded request (or the proxy's refusal). */
  status: number
  /** Whether the proxy reached the target. */
  reached: boolean
  /** Bytes from the target to the client, and from the client to the target. */
  down: number
  up: number
  /** The Proxy-Authorization header the client sent, if any. */
  proxyAuthorization?: string
}

export interface ConnectProxy {
  /** http://127.0.0.1:PORT */
  url: string
  port: number
  /** Everything asked of the proxy (any outcome), oldest first. */
  requests: () => ProxyLog[]
  /** Tunnels opened and requests forwarded to `host` (e.g. `registry.test`), or to any host. */
  reached: (host?: string) => ProxyLog[]
  /** Bytes carried from targets to clients. */
  bytesDown: () => number
  /** Answer everything with this status (e.g. 403, 502) until refuse(undefined). */
  refuse: (status: number | undefined) => void
  /** Cut every open connection (as a proxy restart would): clients must open new ones. */
  dropConnections: () => void
  reset: () => void
  stop: () => Promise<void>
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1)$/

export async function startConnectProxy (opts: ConnectProxyOptions = {}): Promise<ConnectProxy> {
  let log: ProxyLog[] = []
  let refusing: number | undefined
  const sockets = new Set<Duplex | Socket>()
  const track = (s: Duplex | Socket): void => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
    s.on('error', () => {})
  }
  const expectedAuth = opts.auth === undefined ? undefined : 'Basic ' + Buffer.from(`${opts.auth.username}:${opts.auth.password}`).toString('base64')

  /** The log entry of a request, and the loopback address to connect to, or the status to refuse with. */
  const admit = (req: IncomingMessage, kind: ProxyLog['kind'], target: string): { entry: ProxyLog, address?: string, port?: number, refuse?: number } => {
    const entry: ProxyLog = { kind, target, status: 0, reached: false, down: 0, up: 0, proxyAuthorization: req.headers['proxy-authorization'] }
    log.push(entry)
    if (refusing !== undefined) return { entry, refuse: refusing }
    if (expectedAuth !== undefined && req.headers['proxy-authorization'] !== expectedAuth) return { entry, refuse: 407 }
    const m = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(target)
    if (m === null) return { entry, refuse: 400 }
    const name = (m[1] as string).replace(/^\[(.*)\]$/, '$1').toLowerCase()
    const address = opts.hosts?.[name] ?? (isIP(name) !== 0 ? name : undefined)
    // The network rule of the tests: nothing but loopback, whatever a client asks for.
    if (address === undefined || !LOOPBACK.test(address)) return { entry, refuse: 403 }
    return { entry, address, port: Number(m[2]) }
  }
  const AUTH_HEADER = { 'proxy-authenticate': 'Basic realm="test-proxy"' }

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let url: URL
    try { url = new URL(req.url ?? '') } catch { res.writeHead(400); res.end(); return }
    if (url.protocol !== 'http:') { res.writeHead(400); res.end(); return }
    const a = admit(req, 'forward', `${url.hostname}:${url.port !== '' ? url.port : '80'}`)
    if (a.refuse !== undefined) {
      a.entry.status = a.refuse
      res.writeHead(a.refuse, a.refuse === 407 ? AUTH_HEADER : {})
      res.end()
      return
    }
    const headers = { ...req.headers }
    delete headers['proxy-authorization']
    delete headers['proxy-connection']
    const out = httpRequest({ host: a.address, port: a.port, method: req.method, path: url.pathname + url.search, headers }, (up) => {
      a.entry.reached = true
      a.entry.status = up.statusCode ?? 0
      up.on('data', (b: Buffer) => { a.entry.down += b.length })
      res.writeHead(up.statusCode ?? 502, up.headers)
      up.pipe(res)
    })
    out.on('error', () => { if (!res.headersSent) { a.entry.status = 502; res.writeHead(502); res.end() } else res.destroy() })
    req.on('data', (b: Buffer) => { a.entry.up += b.length })
    req.pipe(out)
  })

  server.on('connection', track)
  server.on('connect', (req: IncomingMessage, client: Duplex, head: Buffer) => {
    track(client)
    const a = admit(req, 'connect', req.url ?? '')
    const answer = (status: number, extra = ''): void => {
      a.entry.status = status
      client.end(`HTTP/1.1 ${status} Refused by test proxy\r\n${extra}content-length: 0\r\nconnection: close\r\n\r\n`)
    }
    if (a.refuse !== undefined) { answer(a.refuse, a.refuse === 407 ? 'proxy-authenticate: Basic realm="test-proxy"\r\n' : ''); return }
    const upstream = tcpConnect({ host: a.address, port: a.port as number })
    track(upstream)
    upstream.once('error', () => { if (!a.entry.reached) answer(502); else client.destroy() })
    upstream.once('connect', () => {
      a.entry.status = 200
      a.entry.reached = true
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n')
      if (head.length > 0) { a.entry.up += head.length; upstream.write(head) }
      upstream.on('data', (b: Buffer) => { a.entry.down += b.length })
      client.on('data', (b: Buffer) => { a.entry.up += b.length })
      upstream.pipe(client)
      client.pipe(upstream)
      client.on('close', () => upstream.destroy())
      upstream.on('close', () => client.destroy())
    })
  })

  const port = await listenLoopback(server)

  let stopped = false
  const stop = async (): Promise<void> => {
    if (stopped) return
    stopped = true
    unregister()
    for (const s of sockets) s.destroy()
    await closeServer(server)
  }
  const unregister = own(stop, opts.cleanup)

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests: () => [...log],
    reached: (host) => log.filter(e => e.reached && (host === undefined || e.target.startsWith(`${host}:`))),
    bytesDown: () => log.reduce((n, e) => n + e.down, 0),
    refuse: (status) => { refusing = status },
    dropConnections: () => { for (const s of sockets) s.destroy() },
    reset: () => { log = [] },
    stop
  }
}
