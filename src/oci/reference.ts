import { DigestInvalidError, NameInvalidError } from '../errors.js'

// Grammar from the OCI distribution spec: path components of lowercase alphanumerics joined by
// separators (`.`, `_`, `__`, one or more `-`), several components joined by `/`.
const COMPONENT = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$/
const TAG = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/
const SHA256 = /^sha256:[a-f0-9]{64}$/
const ANY_DIGEST = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/
const MAX_NAME = 255

/** Validate a repository name; throws NameInvalidError with the reason. */
export function parseName (name: string): string {
  if (name.length === 0) throw new NameInvalidError('repository name is empty')
  if (name.length > MAX_NAME) throw new NameInvalidError(`repository name is longer than ${MAX_NAME} characters`)
  for (const part of name.split('/')) {
    if (part === '..' || part === '.') throw new NameInvalidError('repository name may not contain "." or ".." components')
    if (!COMPONENT.test(part)) throw new NameInvalidError(`invalid repository name component ${JSON.stringify(part.slice(0, 64))}`)
  }
  return name
}

/**
 * Validate a digest. Only sha256 is accepted: it is the only algorithm we can verify, and a
 * mirror that stores what it cannot verify would break the "nothing unverified" rule.
 */
export function parseDigest (digest: string): string {
  if (SHA256.test(digest)) return digest
  if (ANY_DIGEST.test(digest)) {
    const alg = digest.slice(0, digest.indexOf(':'))
    if (alg !== 'sha256') throw new DigestInvalidError(`unsupported digest algorithm ${JSON.stringify(alg.slice(0, 32))} (only sha256)`)
  }
  throw new DigestInvalidError(`invalid digest ${JSON.stringify(digest.slice(0, 80))}: expected sha256:<64 lowercase hex>`)
}

export function isDigest (ref: string): boolean { return ref.includes(':') }

/** A manifest reference: a tag or a digest. */
export function parseReference (ref: string): { tag?: string, digest?: string } {
  if (isDigest(ref)) return { digest: parseDigest(ref) }
  if (!TAG.test(ref)) throw new NameInvalidError(`invalid tag ${JSON.stringify(ref.slice(0, 64))}`)
  return { tag: ref }
}

/** Registry host names as given by `?ns=`: host[:port], no scheme, no path. */
const HOST = /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*(?::[0-9]{1,5})?$|^\[[0-9a-fA-F:]+\](?::[0-9]{1,5})?$/
export function isRegistryHost (ns: string): boolean { return ns.length <= 255 && HOST.test(ns) }

export const MANIFEST_MEDIA_TYPES = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.v1+prettyjws',
  'application/vnd.docker.distribution.manifest.v1+json'
]
