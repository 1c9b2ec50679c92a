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
  const { store, upstream, logger } = d
  const ref = parseReference(reference)
  const accept = acceptList(req.headers.accept)
  let digest = ref.digest
  let body: Buffer | undefined
  let mediaType: string | undefined
  /** Set when upstream was away and the tag was answered from elsewhere: said in a header. */
  let tagSource: string | undefined

  if (ref.tag !== undefined) {
    try {
      if (head) {
        const h = await upstream.headManifest(ctx.registry, ctx.repository, ref.tag, accept)
        digest = h.digest
        mediaType = h.mediaType
        if (await store.stat(digest) === undefined) {
          manifestHeaders(res, h.digest, h.mediaType, h.size)
          res.end()
          return
        }
      } else {
        const m = await upstream.getManifest(ctx.registry, ctx.repository, ref.tag, accept)
        digest = m.digest
        body = m.body
        mediaType = m.mediaType
        await keepManifest(d, ctx, digest, body, mediaType)
      }
      await store.putTag(ctx.registry, ctx.repository, ref.tag, { digest, mediaType: mediaType, size: body?.length ?? 0, updatedAt: Date.now() })
      d.office?.tagResolved({ registry: ctx.registry, repository: ctx.repository, tag: ref.tag })
    } catch (err) {
      const code = isLayerdError(err) ? err.code : ''
      if (FINAL.has(code)) throw err
      const q = { registry: ctx.registry, repository: ctx.repository, tag: ref.tag }
      const known = await store.getTag(q.registry, q.repository, q.tag)
      if (known !== undefined && await store.stat(known.digest) !== undefined) {
        digest = known.digest
        tagSource = `local; resolved=${new Date(known.updatedAt).toISOString()}`
      } else {
        const fromOffice = UNREACHABLE.has(code) ? await d.office?.resolveTag(q) : undefined
        if (fromOffice === undefined) throw err
        digest = fromOffice.digest
        mediaType = fromOffice.mediaType
        tagSource = `office; peer=${fromOffice.peerId}; resolved=${new Date(fromOffice.updatedAt).toISOString()}`
      }
      logger.warn({ ...q, digest, source: tagSource, err: errorMessage(err) }, 'upstream unreachable: tag resolved without it')
    }
  }

  if (body === undefined) {
    body = await store.readSmall(digest!, d.maxManifestBytes)
    // Immutable and verified by its digest: a neighbour's copy is as good as upstream's.
    body ??= await d.sessions.fromOffice(digest!, ctx, d.maxManifestBytes).catch(() => undefined)
    if (body === undefined) {
      const m = await upstream.getManifest(ctx.registry, ctx.repository, digest!, accept).catch((err) => {
        if (isLayerdError(err) && err.code === 'BLOB_UNKNOWN') throw new ManifestUnknownError(`manifest ${digest!} is unknown`)
        throw err
      })
      body = m.body
      mediaType = m.mediaType
      await keepManifest(d, ctx, digest!, body, mediaType)
    }
  }
  if (mediaType === undefined || mediaType === '') {
    mediaType = (await store.stat(digest!))?.mediaType ?? manifestMediaType(undefined, body)
  }
  // The client asks for these blobs next: their sizes let the office coalesce at once.
  d.sessions.hintSizes(blobDescriptors(body))
  if (tagSource !== undefined) {
    res.setHeader('X-Layerd-Tag-Source', tagSource)
    res.setHeader('Warning', '110 layerd "upstream unreachable: tag resolved without it"')
  }
  manifestHeaders(res, digest!, mediaType, body.length)
  res.end(head ? undefined : body)
  if (!head) d.metrics.bytesServed.inc({ kind: 'manifest' }, body.length)
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
