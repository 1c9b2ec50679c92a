// GET and HEAD of /v2/<name>/manifests/<reference>. Tags move, so a tag is resolved upstream every
// time; while upstream cannot be reached, the last digest this agent knows serves, else the newest
// one the office knows (said in the response headers and the log). A digest is served from the
// store, else from a neighbour that holds it, else from upstream — verified and kept either way.

import type { IncomingMessage, ServerResponse } from 'node:http'
import { ManifestUnknownError, errorMessage, isLayerdError } from '../errors.js'
import { blobDescriptors } from '../oci/manifest.js'
import { manifestMediaType } from '../oci/media-types.js'
import { parseReference } from '../oci/reference.js'
import type { BlobContext } from '../session/manager.js'
import { API_HEADER, type EdgeDeps } from './http.js'

/** Failures that say the manifest is not to be had: no fallback to a last known digest. */
const FINAL = new Set(['MANIFEST_UNKNOWN', 'NAME_UNKNOWN', 'UNAUTHORIZED', 'DENIED', 'NAME_INVALID'])
/** Failures that say upstream cannot be reached now: the office may answer for it. */
const UNREACHABLE = new Set(['UPSTREAM_UNAVAILABLE', 'UPSTREAM_CIRCUIT_OPEN', 'TOOMANYREQUESTS', 'NO_PROGRESS'])

export async function serveManifest (d: EdgeDeps, ctx: BlobContext, reference: string, req: IncomingMessage, res: ServerResponse, head: boolean): Promise<void> {
  const ref = parseReference(reference)
  const accept = acceptList(req.headers.accept)
  let m: Resolved = { digest: ref.digest ?? '' }
  if (ref.tag !== undefined) {
    m = await resolveTag(d, ctx, ref.tag, accept, head)
    if (head && m.size !== undefined) {
      // Not stored: upstream's answer is all a HEAD needs.
      manifestHeaders(res, m.digest, m.mediaType!, m.size)
      res.end()
      return
    }
  }
  const { digest, body, mediaType } = await complete(d, ctx, m, accept)
  if (m.source !== undefined) {
    res.setHeader('X-Layerd-Tag-Source', m.source)
    res.setHeader('Warning', '110 layerd "upstream unreachable: tag resolved without it"')
  }
  manifestHeaders(res, digest, mediaType, body.length)
  res.end(head ? undefined : body)
  if (!head) d.metrics.bytesServed.inc({ kind: 'manifest' }, body.length)
}

export interface Manifest { digest: string, body: Buffer, mediaType: string }

/**
 * A manifest by tag or digest, as a GET of the edge gets it: a tag resolves upstream (the last
 * known digest while upstream is down), a digest comes from the store or upstream; either way
 * it is kept (verified) in the store.
 */
export async function loadManifest (d: EdgeDeps, ctx: BlobContext, ref: { tag?: string, digest?: string }, accept: string[] = []): Promise<Manifest> {
  const m: Resolved = ref.tag !== undefined ? await resolveTag(d, ctx, ref.tag, accept, false) : { digest: ref.digest ?? '' }
  return await complete(d, ctx, m, accept)
}

/** The body of a resolved manifest; the sizes of the blobs it names go to the sessions. */
async function complete (d: EdgeDeps, ctx: BlobContext, m: Resolved, accept: string[]): Promise<Manifest> {
  const full = m.body !== undefined ? m as Manifest : await manifestByDigest(d, ctx, m.digest, accept, m.mediaType)
  // The client asks for these blobs next: their sizes let the office coalesce at once.
  d.sessions.hintSizes(blobDescriptors(full.body), ctx.registry)
  return full
}

/**
 * What a tag resolved to: with the body (GET), or the size when a HEAD found it not stored.
 * `source` is set when upstream was away and the answer came from elsewhere.
 */
interface Resolved { digest: string, body?: Buffer, mediaType?: string, size?: number, source?: string }

/**
 * Tags move: ask upstream every time (HEAD only asks; GET keeps the manifest) and remember the
 * digest (and provide it to the office). Upstream away: our last known digest, else the newest
 * one an agent of the office resolved.
 */
async function resolveTag (d: EdgeDeps, ctx: BlobContext, tag: string, accept: string[], head: boolean): Promise<Resolved> {
  const { store, upstream, logger } = d
  try {
    let m: Resolved
    if (head) {
      const h = await upstream.headManifest(ctx.registry, ctx.repository, tag, accept)
      if (await store.stat(h.digest) === undefined) return { digest: h.digest, mediaType: h.mediaType, size: h.size }
      m = { digest: h.digest, mediaType: h.mediaType }
    } else {
      m = await upstream.getManifest(ctx.registry, ctx.repository, tag, accept)
      await keepManifest(d, ctx, m.digest, m.body!, m.mediaType!)
    }
    await store.putTag(ctx.registry, ctx.repository, tag, { digest: m.digest, mediaType: m.mediaType!, size: m.body?.length ?? 0, updatedAt: Date.now() })
    d.office?.tagResolved({ registry: ctx.registry, repository: ctx.repository, tag })
    return m
  } catch (err) {
    const code = isLayerdError(err) ? err.code : ''
    if (FINAL.has(code)) throw err
    const q = { registry: ctx.registry, repository: ctx.repository, tag }
    const known = await store.getTag(q.registry, q.repository, q.tag)
    let r: Resolved
    if (known !== undefined && await store.stat(known.digest) !== undefined) {
      r = { digest: known.digest, source: `local; resolved=${new Date(known.updatedAt).toISOString()}` }
    } else {
      const office = UNREACHABLE.has(code) ? await d.office?.resolveTag(q) : undefined
      if (office === undefined) throw err
      r = { digest: office.digest, mediaType: office.mediaType, source: `office; peer=${office.peerId}; resolved=${new Date(office.updatedAt).toISOString()}` }
    }
    logger.warn({ ...q, digest: r.digest, source: r.source, err: errorMessage(err) }, 'upstream unreachable: tag resolved without it')
    return r
  }
}

/** A manifest by digest: from the store, else from a neighbour, else from upstream (then kept). */
async function manifestByDigest (d: EdgeDeps, ctx: BlobContext, digest: string, accept: string[], mediaType?: string): Promise<Manifest> {
  let body = await d.store.readSmall(digest, d.maxManifestBytes)
  // Immutable and verified by its digest: a neighbour's copy is as good as upstream's.
  body ??= await d.sessions.fromOffice(digest, ctx, d.maxManifestBytes).catch(() => undefined)
  if (body === undefined) {
    const m = await d.upstream.getManifest(ctx.registry, ctx.repository, digest, accept).catch((err) => {
      if (isLayerdError(err) && err.code === 'BLOB_UNKNOWN') throw new ManifestUnknownError(`manifest ${digest} is unknown`)
      throw err
    })
    body = m.body
    mediaType = m.mediaType
    await keepManifest(d, ctx, digest, body, mediaType)
  }
  if (mediaType === undefined || mediaType === '') {
    mediaType = (await d.store.stat(digest))?.mediaType ?? manifestMediaType(undefined, body)
  }
  return { digest, body, mediaType }
}

/** Keep a manifest by digest (putSmall verifies it: a body that does not match is refused). */
async function keepManifest (d: EdgeDeps, ctx: BlobContext, digest: string, body: Buffer, mediaType: string): Promise<void> {
  await d.store.putSmall(digest, body, { mediaType, origin: { registry: ctx.registry, repository: ctx.repository }, credentialed: d.upstream.isCredentialed(ctx.registry) })
}

function manifestHeaders (res: ServerResponse, digest: string, mediaType: string, size: number): void {
  res.writeHead(200, {
    ...API_HEADER,
    'Content-Type': mediaType,
    'Docker-Content-Digest': digest,
    ETag: `"${digest}"`,
    'Content-Length': size
  })
}

function acceptList (header: string | undefined): string[] {
  if (header === undefined) return []
  return header.split(',').map(s => s.trim()).filter(s => s.length > 0)
}
