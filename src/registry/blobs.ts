// GET and HEAD of /v2/<name>/blobs/<digest>: from the store when complete, else through the
// blob's fetch session (peers first, then upstream), with Range support.

import type { IncomingMessage, ServerResponse } from 'node:http'
import type { BlobContext } from '../session/manager.js'
import { SOURCES, apportion } from '../session/sources.js'
import type { BlobEntry } from '../store/blob-store.js'
import { letGo } from '../util/lent.js'
import { API_HEADER, drainOrClose, type EdgeDeps } from './http.js'
import type { Range } from '../util/ranges.js'
import { parseRange } from './range.js'

export async function serveBlob (d: EdgeDeps, ctx: BlobContext, digest: string, req: IncomingMessage, res: ServerResponse, head: boolean): Promise<void> {
  // One lookup: the entry (if the store knows the digest) answers size and state, and the
  // reference keeps its file open while we serve from it.
  const e = await d.store.acquire(digest)
  try {
    await serve(d, ctx, digest, e, req, res, head)
  } finally { if (e !== undefined) d.store.release(e) }
}

async function serve (d: EdgeDeps, ctx: BlobContext, digest: string, e: BlobEntry | undefined, req: IncomingMessage, res: ServerResponse, head: boolean): Promise<void> {
  const { sessions, upstream, metrics } = d
  let size = e?.size
  if (head) {
    size ??= (await upstream.statBlob(ctx.registry, ctx.repository, digest)).size
    const range = parseRange(req.headers.range, size)
    blobHeaders(res, digest, size, range)
    res.end()
    return
  }
  const abort = new AbortController()
  res.on('close', () => abort.abort())

  if (e?.complete === true) {
    // Cache hit: straight from the file, through reads shared with the blob's other readers.
    const range = parseRange(req.headers.range, e.size)
    const [start, end] = range ?? [0, e.size]
    blobHeaders(res, digest, e.size, range)
    e.touch()
    const sent = await send(res, batches(e.readShared(start, end)), abort.signal)
    metrics.bytesServed.inc({ kind: 'blob' }, sent)
    metrics.bytesBySource.inc({ source: 'local' }, sent)
    metrics.bytesServedBySource.inc({ source: 'local' }, sent)
    return
  }

  if (size === undefined) size = (await sessions.session(digest, ctx, abort.signal)).size
  const range = parseRange(req.headers.range, size)
  const [start, end] = range ?? [0, size]
  const read = await sessions.read(digest, ctx, start, end, abort.signal)
  blobHeaders(res, digest, size, range)
  let sent = 0
  let uncounted = 0
  // By source in the proportions the session received them, a MiB at a time (the status page
  // shows a long transfer as it goes).
  const count = (): void => {
    const parts = apportion(read.session.received, uncounted)
    for (const s of SOURCES) if (parts[s] > 0) metrics.bytesServedBySource.inc({ source: s }, parts[s])
    uncounted = 0
  }
  try {
    await send(res, read.body, abort.signal, (n) => {
      sent += n
      uncounted += n
      if (uncounted >= COUNT_EVERY) count()
    })
  } finally {
    metrics.bytesServed.inc({ kind: 'blob' }, sent)
    count()
  }
}

const COUNT_EVERY = 1024 * 1024

/**
 * Write every batch of chunks to the response — corked, so a batch goes out in one writev —
 * following its back-pressure; returns the bytes sent.
 */
async function send (res: ServerResponse, body: AsyncIterable<Buffer[]>, signal: AbortSignal, onBytes?: (n: number) => void): Promise<number> {
  let sent = 0
  for await (const chunks of body) {
    let room = true
    res.cork()
    for (const chunk of chunks) {
      sent += chunk.length
      onBytes?.(chunk.length)
      // Lent bytes (a peer piece, an upstream chunk, a chunk of the file) go back once the
      // socket took them (src/util/lent.ts).
      room = res.write(chunk, () => { letGo(chunk) })
    }
    res.uncork()
    if (!room) {
      await drainOrClose(res)
      if (signal.aborted) break
    }
  }
  res.end()
  return sent
}

async function * batches (src: AsyncIterable<Buffer>): AsyncGenerator<Buffer[]> {
  for await (const b of src) yield [b]
}

function blobHeaders (res: ServerResponse, digest: string, size: number, range?: Range): void {
  const headers: Record<string, string | number> = {
    ...API_HEADER,
    'Content-Type': 'application/octet-stream',
    'Docker-Content-Digest': digest,
    ETag: `"${digest}"`,
    'Accept-Ranges': 'bytes',
    'Cache-Control': 'max-age=31536000'
  }
  if (range !== undefined) {
    headers['Content-Range'] = `bytes ${range[0]}-${range[1] - 1}/${size}`
    headers['Content-Length'] = range[1] - range[0]
    res.writeHead(206, headers)
  } else {
    headers['Content-Length'] = size
    res.writeHead(200, headers)
  }
}
