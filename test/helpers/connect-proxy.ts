// A test-owned forward proxy that speaks only CONNECT (what HTTPS clients and undici's ProxyAgent
// use), on 127.0.0.1 port 0. It resolves host names itself from a table (`hosts`: e.g.
// registry.test → 127.0.0.1), so a client behind it needs no DNS for them, and it never opens a
// connection anywhere but loopback: a target that is neither in the table nor a loopback address
// is refused (403). It counts tunnels and bytes, logs each CONNECT, can require Basic proxy
// credentials (407 otherwise) and can refuse every tunnel on demand.

import { createServer, type IncomingMessage } from 'node:http'
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

export interface TunnelLog {
  /** host:port as the client asked for it. */
  target: string
  /** HTTP status the proxy answered the CONNECT with. */
  status: number
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
  /** Tunnels asked for (any outcome), oldest first. */
  tunnels: () => TunnelLog[]
  /** Tunnels that were opened (200) to a target starting with `host` (e.g. `registry.test`). */
  opened: (host?: string) => TunnelLog[]
  /** Bytes carried from targets to clients, over every tunnel. */
  bytesDown: () => number
  /** Answer every CONNECT with this status (e.g. 403, 502) until refuse(undefined). */
  refuse: (status: number | undefined) => void
  /** Cut every open tunnel (as a proxy restart would): clients must open new ones. */
  dropTunnels: () => void
  reset: () => void
  stop: () => Promise<void>
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1)$/

export async function startConnectProxy (opts: ConnectProxyOptions = {}): Promise<ConnectProxy> {
  let log: TunnelLog[] = []
  let refusing: number | undefined
  const sockets = new Set<Duplex | Socket>()
  const server = createServer((_req, res) => {
    res.writeHead(405, { 'content-type': 'text/plain' })
    res.end('this test proxy only tunnels (CONNECT)\n')
  })
  const expectedAuth = opts.auth === undefined ? undefined : 'Basic ' + Buffer.from(`${opts.auth.username}:${opts.auth.password}`).toString('base64')

  server.on('connect', (req: IncomingMessage, client: Duplex, head: Buffer) => {
    sockets.add(client)
    client.on('close', () => sockets.delete(client))
    client.on('error', () => {})
    const target = req.url ?? ''
    const entry: TunnelLog = { target, status: 0, down: 0, up: 0, proxyAuthorization: req.headers['proxy-authorization'] }
    log.push(entry)
    const answer = (status: number, text: string, extra = ''): void => {
      entry.status = status
      client.end(`HTTP/1.1 ${status} ${text}\r\n${extra}content-length: 0\r\nconnection: close\r\n\r\n`)
    }
    if (refusing !== undefined) { answer(refusing, 'Refused by test'); return }
    if (expectedAuth !== undefined && req.headers['proxy-authorization'] !== expectedAuth) {
      answer(407, 'Proxy Authentication Required', 'proxy-authenticate: Basic realm="test-proxy"\r\n')
      return
    }
    const m = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(target)
    if (m === null) { answer(400, 'Bad Request'); return }
    const name = (m[1] as string).replace(/^\[(.*)\]$/, '$1').toLowerCase()
    const address = opts.hosts?.[name] ?? (isIP(name) !== 0 ? name : undefined)
    // The network rule of the tests: nothing but loopback, whatever a client asks for.
    if (address === undefined || !LOOPBACK.test(address)) { answer(403, 'Forbidden'); return }
    const upstream = tcpConnect({ host: address, port: Number(m[2]) })
    sockets.add(upstream)
    upstream.on('close', () => sockets.delete(upstream))
    upstream.once('error', () => { if (entry.status === 0) answer(502, 'Bad Gateway'); else client.destroy() })
    upstream.once('connect', () => {
      entry.status = 200
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n')
      if (head.length > 0) { entry.up += head.length; upstream.write(head) }
      upstream.on('data', (b: Buffer) => { entry.down += b.length })
      client.on('data', (b: Buffer) => { entry.up += b.length })
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
    tunnels: () => [...log],
    opened: (host) => log.filter(t => t.status === 200 && (host === undefined || t.target.startsWith(`${host}:`))),
    bytesDown: () => log.reduce((n, t) => n + t.down, 0),
    refuse: (status) => { refusing = status },
    dropTunnels: () => { for (const sk of sockets) sk.destroy() },
    reset: () => { log = [] },
    stop
  }
}
