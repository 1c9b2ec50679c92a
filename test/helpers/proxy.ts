// A test-owned HTTP proxy in front of an upstream registry (or anything HTTP): counts response
// body bytes (total, per request path), logs every request, and injects faults: cut a response
// after N body bytes, corrupt a byte, answer with a status, stall. Streams (never buffers a whole
// body), passes Range through, and rewrites Location headers pointing at the upstream so that
// redirects come back through the proxy.

import { createServer, request as httpRequest, Agent, type IncomingMessage, type ServerResponse, type OutgoingHttpHeaders } from 'node:http'
import { own, type CleanupScope } from './proc.js'

export interface RequestInfo { method: string, path: string, headers: IncomingMessage['headers'] }

export interface FaultMatch {
  /** Substring of the request path (e.g. a digest, `/manifests/`). */
  pathIncludes?: string
  /** Only this method (e.g. 'GET'). */
  method?: string
  /** Arbitrary predicate, ANDed with the above. */
  match?: (req: RequestInfo) => boolean
  /** How many matching requests get the fault (default 1; Infinity = every one). */
  times?: number
}

export interface ProxyRequestLog {
  id: number
  method: string
  /** Path with query string, as the client sent it. */
  url: string
  /** Path without query string (the key of bytesByPath). */
  path: string
  range?: string
  /** The client's User-Agent (the agent sends layerd/…): who asked. */
  userAgent?: string
  /** The client's address (which agent, when several share one proxy). */
  client?: string
  /** Status sent to the client (0 if none was sent). */
  status: number
  /** Response body bytes sent to the client. */
  bytes: number
  /** Fault(s) applied, e.g. 'cut@1000', 'status:503', 'corrupt@5', 'stall:2000'. */
  faults: string[]
  /** True when the response did not complete (cut, client gone, upstream error). */
  incomplete: boolean
  startedAt: number
  ms: number
  done: boolean
}

export interface ProxyOptions {
  /** Bind address (default 127.0.0.1). */
  host?: string
  port?: number
  cleanup?: CleanupScope
}

export interface CountingProxy {
  /** http://127.0.0.1:PORT */
  url: string
  /** 127.0.0.1:PORT */
  host: string
  port: number
  upstream: string
  /** Response body bytes sent to clients since start/reset. */
  totalBytes(): number
  /** Response body bytes per request path (no query string). */
  bytesByPath(): Map<string, number>
  /** Sum of body bytes over paths containing `substr` (e.g. a blob digest). */
  bytesFor(substr: string): number
  requests(): ProxyRequestLog[]
  /** Requests whose path contains `substr` (optionally only `method`). */
  requestsFor(substr: string, method?: string): ProxyRequestLog[]
  /** Close the connection after `bytes` body bytes of a matching response (client sees a short body). */
  cutAfter(f: FaultMatch & { bytes: number }): void
  /** XOR the body byte at `offset` (default 0) with `xor` (default 0xff). */
  corrupt(f: FaultMatch & { offset?: number, xor?: number }): void
  /** Answer matching requests with `status` without asking the upstream. */
  failWith(f: FaultMatch & { status: number, body?: string, headers?: Record<string, string> }): void
  /** Hold the response for `ms` (Infinity = until the client goes away or stop()), before the
   *  headers or, with afterBytes, after that many body bytes. */
  stall(f: FaultMatch & { ms: number, afterBytes?: number }): void
  clearFaults(): void
  /** Reset counters and the request log (faults stay). */
  reset(): void
  /** Resolves when every request seen so far has finished (bounded). */
  idle(timeoutMs?: number): Promise<void>
  stop(): Promise<void>
}

type Fault =
  | { kind: 'cut', m: FaultMatch, left: number, bytes: number }
  | { kind: 'corrupt', m: FaultMatch, left: number, offset: number, xor: number }
  | { kind: 'status', m: FaultMatch, left: number, status: number, body: string, headers: Record<string, string> }
  | { kind: 'stall', m: FaultMatch, left: number, ms: number, afterBytes?: number }

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer', 'proxy-authorization', 'proxy-authenticate'])

export async function startProxy (upstream: string, opts: ProxyOptions = {}): Promise<CountingProxy> {
  const up = new URL(upstream)
  if (up.protocol !== 'http:') throw new Error('proxy upstream must be http://')
  const upOrigin = up.origin
  const agent = new Agent({ keepAlive: true, maxSockets: 64 })
  let faults: Fault[] = []
  let log: ProxyRequestLog[] = []
  let byPath = new Map<string, number>()
  let total = 0
  let nextId = 1
  const stallTimers = new Set<NodeJS.Timeout>()
  let proxyOrigin = ''

  const matches = (m: FaultMatch, r: RequestInfo): boolean =>
    (m.pathIncludes === undefined || r.path.includes(m.pathIncludes)) &&
    (m.method === undefined || m.method.toUpperCase() === r.method) &&
    (m.match === undefined || m.match(r))

  const takeFaults = (r: RequestInfo): Fault[] => {
    const out: Fault[] = []
    for (const f of faults) {
      if (f.left > 0 && matches(f.m, r)) { f.left--; out.push(f) }
    }
    faults = faults.filter(f => f.left > 0)
    return out
  }

  const delay = async (ms: number, res: ServerResponse): Promise<void> => {
    await new Promise<void>(resolve => {
      const done = (): void => { if (timer !== undefined) { clearTimeout(timer); stallTimers.delete(timer) } resolve() }
      let timer: NodeJS.Timeout | undefined
      if (Number.isFinite(ms)) { timer = setTimeout(done, ms); stallTimers.add(timer) }
      res.once('close', done)
    })
  }

  const count = (entry: ProxyRequestLog, n: number): void => {
    entry.bytes += n
    total += n
    byPath.set(entry.path, (byPath.get(entry.path) ?? 0) + n)
  }

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = req.url ?? '/'
    const qi = url.indexOf('?')
    const path = qi >= 0 ? url.slice(0, qi) : url
    const method = (req.method ?? 'GET').toUpperCase()
    const rangeHeader = req.headers.range
    const entry: ProxyRequestLog = {
      id: nextId++, method, url, path, ...(rangeHeader !== undefined ? { range: rangeHeader } : {}),
      ...(req.headers['user-agent'] !== undefined ? { userAgent: req.headers['user-agent'] } : {}),
      ...(req.socket.remoteAddress !== undefined ? { client: req.socket.remoteAddress } : {}),
      status: 0, bytes: 0, faults: [], incomplete: false, startedAt: Date.now(), ms: 0, done: false,
    }
    log.push(entry)
    const t0 = performance.now()
    res.once('close', () => {
      entry.done = true
      entry.ms = performance.now() - t0
      if (!res.writableFinished) entry.incomplete = true
    })
    const info: RequestInfo = { method, path, headers: req.headers }
    const fs = takeFaults(info)

    const statusFault = fs.find((f): f is Extract<Fault, { kind: 'status' }> => f.kind === 'status')
    const cut = fs.find((f): f is Extract<Fault, { kind: 'cut' }> => f.kind === 'cut')
    const corrupt = fs.find((f): f is Extract<Fault, { kind: 'corrupt' }> => f.kind === 'corrupt')
    const stallBefore = fs.find((f): f is Extract<Fault, { kind: 'stall' }> => f.kind === 'stall' && f.afterBytes === undefined)
    const stallAfter = fs.find((f): f is Extract<Fault, { kind: 'stall' }> => f.kind === 'stall' && f.afterBytes !== undefined)

    if (stallBefore !== undefined) {
      entry.faults.push(`stall:${stallBefore.ms}`)
      await delay(stallBefore.ms, res)
      if (res.destroyed) return
    }
    if (statusFault !== undefined) {
      entry.faults.push(`status:${statusFault.status}`)
      req.resume()
      const body = Buffer.from(statusFault.body)
      entry.status = statusFault.status
      res.writeHead(statusFault.status, { 'content-type': 'application/json', 'content-length': body.length, ...statusFault.headers })
      if (method !== 'HEAD') count(entry, body.length)
      res.end(method === 'HEAD' ? undefined : body)
      return
    }

    const headers: OutgoingHttpHeaders = {}
    for (const [k, v] of Object.entries(req.headers)) {
      if (v === undefined || HOP_BY_HOP.has(k)) continue
      headers[k] = v
    }
    headers.host = up.host

    const upReq = httpRequest({ protocol: up.protocol, hostname: up.hostname, port: up.port, method, path: url, headers, agent })
    res.once('close', () => { if (!res.writableFinished) upReq.destroy() })
    upReq.on('error', err => {
      entry.incomplete = true
      if (!res.headersSent) {
        const body = Buffer.from(JSON.stringify({ error: `proxy upstream error: ${err.message}` }))
        entry.status = 502
        res.writeHead(502, { 'content-type': 'application/json', 'content-length': body.length })
        res.end(body)
      } else {
        res.destroy()
      }
    })
    req.pipe(upReq)

    upReq.on('response', (upRes: IncomingMessage) => {
      const status = upRes.statusCode ?? 502
      const outHeaders: OutgoingHttpHeaders = {}
      for (const [k, v] of Object.entries(upRes.headers)) {
        if (v === undefined || HOP_BY_HOP.has(k)) continue
        if (k === 'location' && typeof v === 'string' && v.startsWith(upOrigin)) {
          outHeaders[k] = proxyOrigin + v.slice(upOrigin.length)
        } else {
          outHeaders[k] = v
        }
      }
      entry.status = status
      res.writeHead(status, outHeaders)

      let sent = 0
      let stalled = false
      let finished = false
      const terminate = (): void => {
        finished = true
        entry.incomplete = true
        upRes.destroy()
        upReq.destroy()
        const sock = res.socket
        // end() flushes what was written (and uncorks) and then sends FIN: the client sees exactly
        // the bytes written before the cut, then a premature end of the body.
        if (sock !== null) {
          sock.end()
          setTimeout(() => sock.destroy(), 2000).unref()
        } else {
          res.destroy()
        }
      }
      if (cut !== undefined) entry.faults.push(`cut@${cut.bytes}`)
      if (corrupt !== undefined) entry.faults.push(`corrupt@${corrupt.offset}`)
      if (stallAfter !== undefined) entry.faults.push(`stall:${stallAfter.ms}@${stallAfter.afterBytes ?? 0}`)

      const write = (c: Buffer): void => {
        if (c.length === 0) return
        count(entry, c.length)
        sent += c.length
        if (!res.write(c)) {
          upRes.pause()
          res.once('drain', () => { if (!stalled) upRes.resume() })
        }
      }

      if (cut !== undefined && cut.bytes <= 0) {
        res.flushHeaders()
        terminate()
        return
      }

      const handleChunk = (c: Buffer): void => {
        if (cut !== undefined) {
          const remaining = cut.bytes - sent
          if (c.length >= remaining) {
            write(c.subarray(0, remaining))
            terminate()
            return
          }
        }
        write(c)
      }
      upRes.on('data', (chunk: Buffer) => {
        if (finished) return
        let c = chunk
        if (corrupt !== undefined && corrupt.offset >= sent && corrupt.offset < sent + c.length) {
          c = Buffer.from(c)
          const i = corrupt.offset - sent
          c[i] = (c[i] as number) ^ corrupt.xor
        }
        if (stallAfter !== undefined && !stalled && stallAfter.afterBytes !== undefined &&
            sent + c.length > stallAfter.afterBytes && sent <= stallAfter.afterBytes) {
          const head = c.subarray(0, stallAfter.afterBytes - sent)
          const rest = c.subarray(stallAfter.afterBytes - sent)
          handleChunk(head)
          if (finished) return
          stalled = true
          upRes.pause()
          void delay(stallAfter.ms, res).then(() => {
            stalled = false
            if (res.destroyed || finished) return
            handleChunk(rest)
            if (!res.writableNeedDrain) upRes.resume()
          })
          return
        }
        handleChunk(c)
      })
      upRes.on('end', () => {
        if (finished) return
        const end = (): void => { if (!finished) { finished = true; res.end() } }
        if (stalled) {
          // The tail is being held: end after it was written.
          const iv = setInterval(() => { if (!stalled || res.destroyed) { clearInterval(iv); end() } }, 10)
        } else {
          end()
        }
      })
      upRes.on('error', () => { if (!finished) { finished = true; entry.incomplete = true; res.destroy() } })
      upRes.on('aborted', () => { if (!finished) { finished = true; entry.incomplete = true; res.destroy() } })
    })
  }

  const server = createServer((req, res) => {
    handle(req, res).catch(err => {
      if (!res.headersSent) { res.writeHead(500); res.end(String(err)) } else res.destroy()
    })
  })
  server.keepAliveTimeout = 5000
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => resolve())
  })
  server.unref()
  const addr = server.address()
  const port = typeof addr === 'object' && addr !== null ? addr.port : 0
  const host = `${opts.host ?? '127.0.0.1'}:${port}`
  proxyOrigin = `http://${host}`

  let stopped = false
  const stop = async (): Promise<void> => {
    if (stopped) return
    stopped = true
    unregister()
    for (const t of stallTimers) clearTimeout(t)
    server.closeAllConnections()
    await new Promise<void>(resolve => server.close(() => resolve()))
    agent.destroy()
  }
  const unregister = own(stop, opts.cleanup)

  const add = (f: Fault): void => { faults.push(f) }
  return {
    url: proxyOrigin,
    host,
    port,
    upstream,
    totalBytes: () => total,
    bytesByPath: () => new Map(byPath),
    bytesFor: (s: string) => { let n = 0; for (const [p, b] of byPath) if (p.includes(s)) n += b; return n },
    requests: () => log,
    requestsFor: (s: string, method?: string) => log.filter(e => e.path.includes(s) && (method === undefined || e.method === method.toUpperCase())),
    cutAfter: f => add({ kind: 'cut', m: f, left: f.times ?? 1, bytes: f.bytes }),
    corrupt: f => add({ kind: 'corrupt', m: f, left: f.times ?? 1, offset: f.offset ?? 0, xor: f.xor ?? 0xff }),
    failWith: f => add({ kind: 'status', m: f, left: f.times ?? 1, status: f.status, body: f.body ?? JSON.stringify({ errors: [{ code: 'UNAVAILABLE', message: `injected ${f.status}` }] }), headers: f.headers ?? {} }),
    stall: f => add({ kind: 'stall', m: f, left: f.times ?? 1, ms: f.ms, ...(f.afterBytes !== undefined ? { afterBytes: f.afterBytes } : {}) }),
    clearFaults: () => { faults = [] },
    reset: () => { log = []; byPath = new Map(); total = 0 },
    idle: async (timeoutMs = 10_000) => {
      const deadline = Date.now() + timeoutMs
      while (log.some(e => !e.done)) {
        if (Date.now() > deadline) throw new Error('proxy: requests still running')
        await new Promise(resolve => setTimeout(resolve, 20))
      }
    },
    stop,
  }
}
