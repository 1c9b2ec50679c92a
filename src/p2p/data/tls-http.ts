// The data plane's client side of HTTP/1.1 over TLS (PSK), for the fetch worker: one request at a
// time per connection, keep-alive, and response bodies read by OpenSSL straight into the
// consumer's buffers (the socket's `onread` with a buffer the consumer names).
//
// Why not node:https: its response body reaches JavaScript as one fresh 16 KiB Buffer per TLS
// record, through the HTTP parser and two stream layers, and is then copied into the piece
// being assembled. Reading into the piece itself cost about half the CPU for the same bytes
// (315 MB over loopback into 4 MiB pieces with a sha256 each, in a worker: 0.56–0.59 s against
// 0.92–1.27 s; bench/dataplane-probe.ts compares both). The server stays node:https; the client
// speaks the small part of HTTP/1.1 the data server uses: GET, a status line, headers, a
// Content-Length body.

import { connect, type ConnectionOptions, type TLSSocket } from 'node:tls'

/** Longest response head we accept. */
const HEAD_MAX = 16 * 1024
/** An idle connection is closed after this (the data server drops idle ones after 30 s). */
const IDLE_MS = 20_000

export interface ResponseHead {
  status: number
  /** Header names in lower case. */
  headers: Map<string, string>
  contentLength: number
}

/**
 * Where a response body goes: views of the consumer's own buffers, filled in place. The socket
 * reads into the last target handed out until it asks for the next one (right after `wrote`):
 * whatever changes in between, the next bytes land there.
 */
export interface BodySink {
  /** The buffer the next body bytes are read into (not empty). */
  target: () => Uint8Array
  /** `n` bytes were read into the start of the last target. */
  wrote: (n: number) => void
}

/** A failure of the exchange: `code` is the socket's (ECONNREFUSED, ERR_SSL_...), or ours. */
export class ExchangeError extends Error {
  constructor (message: string, readonly code: string, readonly retriable = false) { super(message) }
}

interface Exchange {
  onHead: (head: ResponseHead) => BodySink
  resolve: () => void
  reject: (err: ExchangeError) => void
  /** Any byte of the response arrived (a reused connection that fails before is retried). */
  answered: boolean
}

/** One TLS connection, one exchange at a time. */
class Connection {
  readonly socket: TLSSocket
  private readonly ready: Promise<void>
  private refuse?: (err: ExchangeError) => void
  private readonly head = Buffer.allocUnsafe(HEAD_MAX)
  private headLen = 0
  /** Body bytes still to come, once the head is read. */
  private left = 0
  private sink?: BodySink
  private exchange?: Exchange
  /** The last target handed to the socket is the consumer's (else the head buffer). */
  private intoSink = false
  /** Served an exchange before: a failure before any answer may be the server closing it. */
  reused = false
  closed = false
  idleTimer?: NodeJS.Timeout

  constructor (opts: ConnectionOptions, timeoutMs: number) {
    this.socket = connect({
      ...opts,
      onread: { buffer: () => this.nextTarget(), callback: (n: number) => this.onRead(n) }
    } as ConnectionOptions)
    // Settles on the handshake, or with the first failure (fail() rejects it: a socket destroyed
    // before its handshake, by us or the server, emits no 'error', only 'close').
    this.ready = new Promise((resolve, reject) => {
      this.socket.once('secureConnect', () => { this.refuse = undefined; resolve() })
      this.refuse = reject
    })
    this.ready.catch(() => {})
    this.socket.setTimeout(timeoutMs, () => { this.fail(new ExchangeError(`no answer for ${timeoutMs} ms`, 'ETIMEDOUT')) })
    this.socket.on('error', (err: NodeJS.ErrnoException) => { this.fail(new ExchangeError(err.message, err.code ?? 'ECONNRESET', this.reused && this.exchange?.answered === false)) })
    this.socket.on('close', () => { this.fail(new ExchangeError('connection closed', 'ECONNRESET', this.reused && this.exchange?.answered === false)) })
  }

  /** Send a GET and read its response: the head goes to `onHead`, the body to the sink it returns. */
  async get (path: string, headers: Record<string, string>, onHead: (head: ResponseHead) => BodySink): Promise<void> {
    await this.ready
    if (this.closed) throw new ExchangeError('connection closed', 'ECONNRESET', this.reused)
    return await new Promise<void>((resolve, reject) => {
      this.exchange = { onHead, resolve, reject, answered: false }
      this.headLen = 0
      this.sink = undefined
      let req = `GET ${path} HTTP/1.1\r\nhost: ${this.socket.remoteAddress ?? 'peer'}\r\n`
      for (const [k, v] of Object.entries(headers)) req += `${k}: ${v}\r\n`
      this.socket.write(req + '\r\n')
    })
  }

  pause (): void { this.socket.pause() }
  resume (): void { this.socket.resume() }

  destroy (err?: ExchangeError): void {
    if (err !== undefined) this.fail(err)
    this.closed = true
    this.socket.destroy()
  }

  private nextTarget (): Uint8Array {
    this.intoSink = this.sink !== undefined && this.left > 0
    if (this.intoSink) {
      const t = this.sink!.target()
      return t.length > this.left ? t.subarray(0, this.left) : t
    }
    // A head (or bytes nobody asked for, which fail the exchange): into the head buffer.
    return this.head.subarray(Math.min(this.headLen, HEAD_MAX - 1))
  }

  private onRead (n: number): void {
    const x = this.exchange
    if (x === undefined) { this.destroy(); return } // bytes between exchanges: the stream is out of step
    x.answered = true
    if (this.intoSink) {
      this.left -= n
      this.sink!.wrote(n)
      if (this.left === 0 && this.exchange === x) this.done()
      return
    }
    this.headLen += n
    const end = this.head.subarray(0, this.headLen).indexOf('\r\n\r\n')
    if (end < 0) {
      if (this.headLen >= HEAD_MAX - 1) this.destroy(new ExchangeError('response head too long', 'PROTOCOL'))
      return
    }
    let head: ResponseHead
    try { head = parseHead(this.head.toString('latin1', 0, end)) } catch (err) { this.destroy(err as ExchangeError); return }
    this.left = head.contentLength
    try { this.sink = x.onHead(head) } catch (err) { this.destroy(new ExchangeError(String((err as Error).message), 'PROTOCOL')); return }
    // Body bytes that came with the head.
    let early = this.head.subarray(end + 4, this.headLen)
    if (early.length > this.left) { this.destroy(new ExchangeError('more bytes than the response announced', 'PROTOCOL')); return }
    while (early.length > 0) {
      const t = this.sink.target()
      const k = Math.min(t.length, early.length)
      t.set(early.subarray(0, k))
      early = early.subarray(k)
      this.left -= k
      this.sink.wrote(k)
      if (this.exchange !== x) return // the sink failed the exchange
    }
    if (this.left === 0) this.done()
  }

  private done (): void {
    const x = this.exchange
    this.exchange = undefined
    this.sink = undefined
    this.headLen = 0
    this.reused = true
    x?.resolve()
  }

  private fail (err: ExchangeError): void {
    this.closed = true
    this.refuse?.(err)
    this.refuse = undefined
    const x = this.exchange
    this.exchange = undefined
    this.sink = undefined
    if (x !== undefined) x.reject(err)
    if (!this.socket.destroyed) this.socket.destroy()
  }
}

function parseHead (text: string): ResponseHead {
  const lines = text.split('\r\n')
  const m = /^HTTP\/1\.[01] (\d{3})(?: |$)/.exec(lines[0] ?? '')
  if (m === null) throw new ExchangeError(`not an HTTP/1.1 response: ${JSON.stringify((lines[0] ?? '').slice(0, 80))}`, 'PROTOCOL')
  const headers = new Map<string, string>()
  for (const line of lines.slice(1)) {
    const i = line.indexOf(':')
    if (i <= 0) throw new ExchangeError('malformed response header', 'PROTOCOL')
    headers.set(line.slice(0, i).trim().toLowerCase(), line.slice(i + 1).trim())
  }
  // The data server always sends a Content-Length body: no chunked or close-delimited bodies.
  const cl = headers.get('content-length')
  if (cl === undefined || !/^\d{1,16}$/.test(cl) || headers.has('transfer-encoding')) throw new ExchangeError('response without a Content-Length', 'PROTOCOL')
  return { status: Number(m[1]), headers, contentLength: Number(cl) }
}

/**
 * Keep-alive connections to one server, at most `max` at once (more requests wait their turn).
 * A request that fails on a reused connection before any answer (the server closed it while
 * idle) is sent again once on a new one.
 */
export class ConnectionPool {
  private readonly idle: Connection[] = []
  private active = 0
  private readonly waiting: Array<() => void> = []
  private closed = false

  constructor (private readonly opts: ConnectionOptions, private readonly max: number, private readonly timeoutMs: number) {}

  /**
   * GET `path`: `onHead` sees the response head and returns where the body goes; `use` gets the
   * connection while the exchange runs (to pause reading, or destroy it on abort).
   */
  async get (path: string, headers: Record<string, string>, onHead: (head: ResponseHead) => BodySink, use?: (conn: { pause: () => void, resume: () => void, destroy: (err?: ExchangeError) => void }) => void, signal?: AbortSignal): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      const conn = await this.acquire(signal)
      let ok = false
      try {
        use?.(conn)
        await conn.get(path, headers, onHead)
        ok = true
        return
      } catch (err) {
        if (attempt === 0 && err instanceof ExchangeError && err.retriable) continue
        throw err
      } finally { this.release(conn, ok) }
    }
  }

  private async acquire (signal?: AbortSignal): Promise<Connection> {
    for (;;) {
      if (this.closed) throw new ExchangeError('connections closed', 'ECONNRESET')
      if (signal?.aborted === true) throw new ExchangeError('aborted', 'ABORTED')
      const c = this.idle.pop()
      if (c !== undefined) {
        clearTimeout(c.idleTimer)
        if (c.closed) continue
        this.active++
        return c
      }
      if (this.active < this.max) {
        this.active++
        return new Connection(this.opts, this.timeoutMs)
      }
      // A turn, or the caller giving up (then the next one in line is woken instead).
      await new Promise<void>(resolve => {
        const done = (): void => { signal?.removeEventListener('abort', gaveUp); resolve() }
        const gaveUp = (): void => { const i = this.waiting.indexOf(done); if (i >= 0) this.waiting.splice(i, 1); resolve() }
        signal?.addEventListener('abort', gaveUp, { once: true })
        this.waiting.push(done)
      })
    }
  }

  private release (c: Connection, reusable: boolean): void {
    this.active--
    if (reusable && !c.closed && !this.closed) {
      c.resume()
      c.idleTimer = setTimeout(() => { this.idle.splice(this.idle.indexOf(c), 1); c.destroy() }, IDLE_MS)
      c.idleTimer.unref()
      this.idle.push(c)
    } else c.destroy()
    this.waiting.shift()?.()
  }

  close (): void {
    this.closed = true
    for (const c of this.idle.splice(0)) { clearTimeout(c.idleTimer); c.destroy() }
    for (const w of this.waiting.splice(0)) w()
  }
}
