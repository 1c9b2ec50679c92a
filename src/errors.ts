// One class per failure, each with a stable `code`. Only the HTTP edge (src/registry/oci-errors.ts)
// turns these into OCI error JSON; everything below it throws and catches typed errors.

export abstract class LayerdError extends Error {
  abstract readonly code: string
  constructor (message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = new.target.name
  }
}

/** A digest string that is not `algorithm:hex` or uses an algorithm we cannot verify. */
export class DigestInvalidError extends LayerdError {
  readonly code = 'DIGEST_INVALID'
}

/** A repository name that violates the distribution spec grammar (or tries `..`). */
export class NameInvalidError extends LayerdError {
  readonly code = 'NAME_INVALID'
}

/** A Range header we cannot parse or satisfy. `size` is the blob size when known (for 416). */
export class RangeInvalidError extends LayerdError {
  readonly code = 'RANGE_INVALID'
  constructor (message: string, readonly size?: number) { super(message) }
}

/** The blob is not in the store and no source can provide it. */
export class BlobUnknownError extends LayerdError {
  readonly code = 'BLOB_UNKNOWN'
}

/** The manifest (by tag or digest) is unknown upstream and not cached. */
export class ManifestUnknownError extends LayerdError {
  readonly code = 'MANIFEST_UNKNOWN'
}

/** The repository does not exist upstream. */
export class NameUnknownError extends LayerdError {
  readonly code = 'NAME_UNKNOWN'
}

/** Upstream refused our credentials (or we have none and it wants some). */
export class UnauthorizedError extends LayerdError {
  readonly code = 'UNAUTHORIZED'
}

/** Upstream denied access to the resource with valid credentials. */
export class DeniedError extends LayerdError {
  readonly code = 'DENIED'
}

/** Upstream rate-limited us and retries ran out. */
export class TooManyRequestsError extends LayerdError {
  readonly code = 'TOOMANYREQUESTS'
}

/** Push, delete and anything else a pull-only mirror does not do. */
export class UnsupportedError extends LayerdError {
  readonly code = 'UNSUPPORTED'
}

/** `?ns=` or the default registry names a registry we have no URL for. */
export class RegistryUnknownError extends LayerdError {
  readonly code = 'REGISTRY_UNKNOWN'
}

/** Upstream is unreachable, timed out, or kept failing after bounded retries. */
export class UpstreamUnavailableError extends LayerdError {
  readonly code = 'UPSTREAM_UNAVAILABLE'
}

/** Upstream's TLS certificate could not be verified (a private CA without `caFile`, a wrong host name, expired). Not retried. */
export class UpstreamTlsError extends LayerdError {
  readonly code = 'UPSTREAM_TLS'
}

/** The per-registry circuit breaker is open: we fail fast instead of waiting on a dead upstream. */
export class CircuitOpenError extends LayerdError {
  readonly code = 'UPSTREAM_CIRCUIT_OPEN'
  constructor (message: string, readonly retryAfterMs: number) { super(message) }
}

/** Upstream answered something that breaks the protocol (wrong length, changed ETag, 200 mid-resume, redirect loop). */
export class UpstreamProtocolError extends LayerdError {
  readonly code = 'UPSTREAM_PROTOCOL'
}

/** A transfer made no progress for longer than the configured timeout. */
export class NoProgressError extends LayerdError {
  readonly code = 'NO_PROGRESS'
}

/** The sha256 of the bytes does not match the digest. The bytes are discarded. */
export class DigestMismatchError extends LayerdError {
  readonly code = 'DIGEST_MISMATCH'
  constructor (message: string, readonly expected: string, readonly actual: string) { super(message) }
}

/** A write failed because the disk (or quota) is full. Nothing partial is recorded. */
export class StoreFullError extends LayerdError {
  readonly code = 'STORE_FULL'
}

/** Reading or writing the store failed for another reason. */
export class StoreIOError extends LayerdError {
  readonly code = 'STORE_IO'
}

/** Bad configuration: `key` names the option, the message says what is wrong. */
export class ConfigError extends LayerdError {
  readonly code = 'CONFIG_INVALID'
}

/**
 * A container client's file (hosts.toml, daemon.json, registries.conf) that `layerd setup` cannot
 * read, parse, write or change safely. The message names the file.
 */
export class ClientFileError extends LayerdError {
  readonly code = 'CLIENT_FILE'
}

/** A request to the admin API that is malformed (not JSON, a field of the wrong type). */
export class InvalidRequestError extends LayerdError {
  readonly code = 'INVALID_REQUEST'
}

/** An admin API job id (a `layerd pull`) that this agent does not know (never, or no longer). */
export class JobUnknownError extends LayerdError {
  readonly code = 'JOB_UNKNOWN'
}

/** The operation was aborted by its caller (client went away, agent stopping). */
export class AbortedError extends LayerdError {
  readonly code = 'ABORTED'
}

/** A peer sent a malformed, oversized or unexpected protocol frame. */
export class PeerProtocolError extends LayerdError {
  readonly code = 'PEER_PROTOCOL'
}

/** A peer answered a range request with an error frame, or does not hold the bytes. */
export class PeerRangeError extends LayerdError {
  readonly code = 'PEER_RANGE'
}

export function isLayerdError (err: unknown): err is LayerdError {
  return err instanceof LayerdError
}

export function errorMessage (err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}
