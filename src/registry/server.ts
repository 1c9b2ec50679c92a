import { once } from 'node:events'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { pipeline } from 'node:stream/promises'
import {
  ManifestUnknownError, NameInvalidError, RegistryUnknownError, UnsupportedError,
  errorMessage, isLayerdError
} from '../errors.js'
import type { Logger } from '../log.js'
import type { Metrics } from '../metrics/metrics.js'
import { isRegistryHost, parseDigest, parseName, parseReference } from '../oci/reference.js'
import type { BlobContext, SessionManager } from '../session/manager.js'
import type { BlobEntry, BlobStore } from '../store/blob-store.js'
import type { Upstream } from '../upstream/types.js'
import { sendError } from './oci-errors.js'
import { parseRange } from './range.js'

export interface RegistryServerInit {
  store: BlobStore
  sessions: SessionManager
  upstream: Upstream
  metrics: Metrics
  logger: Logger
  /** Registry used when a request has no `?ns=`. */
  defaultRegistry: string
  /** Registries we have an upstream for (so `?ns=` can be checked). */
  knownRegistries: () => string[]
  /** Largest manifest we accept or serve. Default 4 MiB. */
  maxManifestBytes?: number
  /** Extra routes under /_layerd/ (status, peers, gc), served as JSON. */
  adminRoutes?: Record<string, (req: IncomingMessage) => Promise<unknown>>
}

const API_HEADER = { 'Docker-Distribution-API-Version': 'registry/2.0' }
// /v2/<name>/(manifests|blobs)/<ref>; <name> may have several components, so match the last verb.
const ROUTE = /^\/v2\/(.+)\/(manifests|blobs)\/([^/]+)$/
const UPLOADS = /^\/v2\/(.+)\/blobs\/uploads(\/.*)?$/

type Route = 'base' | 'manifest' | 'blob' | 'metrics' | 'admin' | 'other'

/**
 * The HTTP edge: the OCI distribution pull API, /metrics and the local admin endpoints.
 * Parses and validates input, then calls the store, the session manager and the upstream.
 * Typed errors become OCI JSON here and nowhere else.
 */
export class RegistryServer {
  readonly server: Server
  private readonly maxManifest: number

  constructor (private readonly init: RegistryServerInit) {
    this.maxManifest = init.maxManifestBytes ?? 4 * 1024 * 1024
    this.server = createServer({ maxHeaderSize: 16 * 1024, requestTimeout: 0, keepAliveTimeout: 30_000 }, (req, res) => {
      this.handle(req, res).catch((err) => {
        this.init.logger.error({ err: errorMessage(err) }, 'unhandled error in request handler')
        if (!res.headersSent) sendError(res, err)
        else res.destroy()
      })
    })
    this.server.on('clientError', (err: any, socket) => {
      // Oversized or malformed requests: answer plainly, never crash.
      if (socket.writable) {
        const status = err?.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : '400 Bad Request'
        socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`)
      } else socket.destroy()
    })
  }

  async listen (host: string, port: number): Promise<AddressInfo> {
    this.server.listen(port, host)
    await Promise.race([
      once(this.server, 'listening'),
      once(this.server, 'error').then(([err]) => { throw err })
    ])
    return this.server.address() as AddressInfo
  }

  async close (): Promise<void> {
    await new Promise<void>(resolve => {
      this.server.close(() => resolve())
      this.server.closeAllConnections()
    })
  }

  private async handle (req: IncomingMessage, res: ServerResponse): Promise<void> {
    // Route on the raw path: URL parsing would resolve `..` and hide a traversal attempt.
    const raw = req.url ?? '/'
    const q = raw.indexOf('?')
    const path = q < 0 ? raw : raw.slice(0, q)
    const query = new URLSearchParams(q < 0 ? '' : raw.slice(q + 1))
    const method = req.method ?? 'GET'
    const head = method === 'HEAD'
    let route: Route = 'other'
    try {
      if (path === '/v2/' || path === '/v2') {
        route = 'base'
        if (method !== 'GET' && !head) throw new UnsupportedError('method not allowed')
        res.writeHead(200, { ...API_HEADER, 'Content-Type': 'application/json', 'Content-Length': 2 })
        res.end(head ? undefined : '{}')
      } else if (path === '/metrics') {
        route = 'metrics'
        await this.metrics(res)
      } else if (path.startsWith('/_layerd/')) {
        route = 'admin'
        await this.admin(path.slice('/_layerd/'.length), req, res)
      } else if (UPLOADS.test(path) || (method !== 'GET' && !head)) {
        throw new UnsupportedError(`${method} ${path.slice(0, 128)} is not supported: layerd is a pull-only mirror`)
      } else {
        const m = ROUTE.exec(path)
        if (m === null) {
          if (path.startsWith('/v2/')) throw new UnsupportedError('this registry API endpoint is not supported by the mirror')
          res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found\n')
        } else {
          const name = parseName(m[1])
          const ctx: BlobContext = { registry: this.registryOf(query), repository: name }
          if (m[2] === 'blobs') {
            route = 'blob'
            await this.blob(ctx, parseDigest(m[3]), req, res, head)
          } else {
            route = 'manifest'
            await this.manifest(ctx, m[3], req, res, head)
          }
        }
      }
    } catch (err) {
      if (res.headersSent) {
        // Mid-body failure: cut the connection so the client sees an incomplete transfer and
        // retries (with Range), instead of taking a short body as the blob.
        this.init.logger.warn({ path, err: errorMessage(err) }, 'response aborted mid-body')
        res.destroy()
      } else {
        const status = sendError(res, err, head)
        const level = status >= 500 ? 'warn' : 'info'
        this.init.logger[level]({ method, path, status, code: isLayerdError(err) ? err.code : undefined, err: errorMessage(err) }, 'request failed')
      }
    } finally {
      this.init.metrics.httpRequests.inc({ route, status: String(res.statusCode) })
    }
  }

  /** `?ns=<registry>` (containerd) picks the upstream; otherwise the default registry. */
  private registryOf (query: URLSearchParams): string {
    const ns = query.get('ns')
    if (ns === null || ns === '') return this.init.defaultRegistry
    if (!isRegistryHost(ns)) throw new NameInvalidError(`invalid ns parameter ${JSON.stringify(ns.slice(0, 64))}`)
    const known = this.init.knownRegistries()
    if (known.includes(ns)) return ns
    // containerd writes Docker Hub as docker.io; some tools use its API host.
    if (ns === 'registry-1.docker.io' && known.includes('docker.io')) return 'docker.io'
    throw new RegistryUnknownError(`registry ${JSON.stringify(ns)} is not configured: add --upstream ${ns}=https://${ns}`)
  }

  private async blob (ctx: BlobContext, digest: string, req: IncomingMessage, res: ServerResponse, head: boolean): Promise<void> {
    const { store } = this.init
    // One lookup: the entry (if the store knows the digest) answers size and state, and the
    // reference keeps its file open while we serve from it.
    const e = await store.acquire(digest)
    try {
      await this.serveBlob(ctx, digest, e, req, res, head)
    } finally { if (e !== undefined) store.release(e) }
  }

  private async serveBlob (ctx: BlobContext, digest: string, e: BlobEntry | undefined, req: IncomingMessage, res: ServerResponse, head: boolean): Promise<void> {
    const { store, sessions, upstream, metrics } = this.init
    let size = e?.size
    if (head) {
      size ??= (await upstream.statBlob(ctx.registry, ctx.repository, digest)).size
      const range = parseRange(req.headers.range, size)
      this.blobHeaders(res, digest, size, range)
      res.end()
      return
    }
    const abort = new AbortController()
    res.on('close', () => abort.abort())

    if (e?.complete === true) {
      // Cache hit: straight from the file.
      const range = parseRange(req.headers.range, e.size)
      const start = range?.start ?? 0
      const end = range?.end ?? e.size
      this.blobHeaders(res, digest, e.size, range)
      e.touch()
      if (end > start) await pipeline(store.openReadStream(digest, start, end), res)
      else res.end()
      metrics.bytesServed.inc({ kind: 'blob' }, end - start)
      metrics.bytesBySource.inc({ source: 'local' }, end - start)
      return
    }

    if (size === undefined) size = (await sessions.session(digest, ctx, abort.signal)).size
    const range = parseRange(req.headers.range, size)
    const start = range?.start ?? 0
    const end = range?.end ?? size
    const read = await sessions.read(digest, ctx, start, end, abort.signal)
    this.blobHeaders(res, digest, size, range)
    let sent = 0
    try {
      for await (const chunk of read.body) {
        sent += chunk.length
        if (!res.write(chunk)) {
          await drainOrClose(res)
          if (abort.signal.aborted) break
        }
      }
    } finally { metrics.bytesServed.inc({ kind: 'blob' }, sent) }
    res.end()
  }

  private blobHeaders (res: ServerResponse, digest: string, size: number, range?: { start: number, end: number }): void {
    const headers: Record<string, string | number> = {
      ...API_HEADER,
      'Content-Type': 'application/octet-stream',
      'Docker-Content-Digest': digest,
      ETag: `"${digest}"`,
      'Accept-Ranges': 'bytes',
      'Cache-Control': 'max-age=31536000'
    }
    if (range !== undefined) {
      headers['Content-Range'] = `bytes ${range.start}-${range.end - 1}/${size}`
      headers['Content-Length'] = range.end - range.start
      res.writeHead(206, headers)
    } else {
      headers['Content-Length'] = size
      res.writeHead(200, headers)
    }
  }

  private async manifest (ctx: BlobContext, reference: string, req: IncomingMessage, res: ServerResponse, head: boolean): Promise<void> {
    const { store, upstream, logger } = this.init
    const ref = parseReference(reference)
    const accept = acceptList(req.headers.accept)
    let digest = ref.digest
    let body: Buffer | undefined
    let mediaType: string | undefined

    if (ref.tag !== undefined) {
      // Tags move: ask upstream every time; fall back to the last known digest when it is down.
      try {
        if (head) {
          const h = await upstream.headManifest(ctx.registry, ctx.repository, ref.tag, accept)
          digest = h.digest
          mediaType = h.mediaType
          if (await store.stat(digest) === undefined) {
            this.manifestHeaders(res, h.digest, h.mediaType, h.size)
            res.end()
            return
          }
        } else {
          const m = await upstream.getManifest(ctx.registry, ctx.repository, ref.tag, accept)
          digest = m.digest
          body = m.body
          mediaType = m.mediaType
          await this.keepManifest(ctx, digest, body, mediaType)
        }
        await store.putTag(ctx.registry, ctx.repository, ref.tag, { digest, mediaType: mediaType!, size: body?.length ?? 0, updatedAt: Date.now() })
      } catch (err) {
        const code = isLayerdError(err) ? err.code : ''
        if (['MANIFEST_UNKNOWN', 'NAME_UNKNOWN', 'UNAUTHORIZED', 'DENIED', 'NAME_INVALID'].includes(code)) throw err
        const known = await store.getTag(ctx.registry, ctx.repository, ref.tag)
        if (known === undefined || await store.stat(known.digest) === undefined) throw err
        logger.warn({ registry: ctx.registry, repository: ctx.repository, tag: ref.tag, err: errorMessage(err) }, 'upstream unavailable: serving the last known digest of the tag')
        digest = known.digest
      }
    }

    if (body === undefined) {
      body = await store.readSmall(digest!, this.maxManifest)
      if (body === undefined) {
        const m = await upstream.getManifest(ctx.registry, ctx.repository, digest!, accept).catch((err) => {
          if (isLayerdError(err) && err.code === 'BLOB_UNKNOWN') throw new ManifestUnknownError(`manifest ${digest!} is unknown`)
          throw err
        })
        body = m.body
        mediaType = m.mediaType
        await this.keepManifest(ctx, digest!, body, mediaType)
      }
    }
    if (mediaType === undefined || mediaType === '') {
      mediaType = (await store.stat(digest!))?.mediaType ?? sniffMediaType(body)
    }
    this.manifestHeaders(res, digest!, mediaType, body.length)
    res.end(head ? undefined : body)
    if (!head) this.init.metrics.bytesServed.inc({ kind: 'manifest' }, body.length)
  }

  /** Keep a manifest by digest (putSmall verifies it: a body that does not match is refused). */
  private async keepManifest (ctx: BlobContext, digest: string, body: Buffer, mediaType: string): Promise<void> {
    await this.init.store.putSmall(digest, body, { mediaType, origin: { registry: ctx.registry, repository: ctx.repository }, credentialed: this.init.upstream.isCredentialed(ctx.registry) })
  }

  private manifestHeaders (res: ServerResponse, digest: string, mediaType: string, size: number): void {
    res.writeHead(200, {
      ...API_HEADER,
      'Content-Type': mediaType,
      'Docker-Content-Digest': digest,
      ETag: `"${digest}"`,
      'Content-Length': size
    })
  }

  private async metrics (res: ServerResponse): Promise<void> {
    const { metrics, store } = this.init
    const blobs = { partial: 0, complete: 0 }
    const bytes = { partial: 0, complete: 0 }
    for (const b of await store.list()) { blobs[b.state]++; bytes[b.state] += b.present.bytes }
    for (const s of ['partial', 'complete'] as const) {
      metrics.storedBlobs.set({ state: s }, blobs[s])
      metrics.storedBytes.set({ state: s }, bytes[s])
    }
    const text = await metrics.registry.metrics()
    res.writeHead(200, { 'Content-Type': metrics.registry.contentType })
    res.end(text)
  }

  private async admin (name: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const fn = this.init.adminRoutes?.[name]
    if (fn === undefined) {
      res.writeHead(404, { 'Content-Type': 'application/json' }).end(JSON.stringify({ error: 'unknown admin endpoint' }))
      return
    }
    // Admin endpoints change state (gc): only from this machine.
    const remote = req.socket.remoteAddress ?? ''
    if (!['127.0.0.1', '::1', '::ffff:127.0.0.1'].includes(remote)) {
      res.writeHead(403, { 'Content-Type': 'application/json' }).end(JSON.stringify({ error: 'admin endpoints answer loopback clients only' }))
      return
    }
    const out = await fn(req)
    const body = JSON.stringify(out, null, 2)
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) })
    res.end(body)
  }
}

/** Wait until the response can take more, or is gone; leaves no listener behind. */
async function drainOrClose (res: ServerResponse): Promise<void> {
  if (res.destroyed) return
  await new Promise<void>(resolve => {
    const done = (): void => { res.off('drain', done); res.off('close', done); resolve() }
    res.on('drain', done)
    res.on('close', done)
  })
}

function acceptList (header: string | undefined): string[] {
  if (header === undefined) return []
  return header.split(',').map(s => s.trim()).filter(s => s.length > 0)
}

function sniffMediaType (body: Buffer): string {
  try {
    const j = JSON.parse(body.toString('utf8'))
    if (typeof j.mediaType === 'string') return j.mediaType
    if (Array.isArray(j.manifests)) return 'application/vnd.oci.image.index.v1+json'
  } catch {}
  return 'application/vnd.oci.image.manifest.v1+json'
}

