// One class per failure, each with a stable `code`. Only the HTTP edge (src/registry/oci-errors.ts)
// turns these into OCI error JSON; everything below it throws and catches typed errors.
export class LayerdError extends Error {
    constructor(message, options) {
        super(message, options);
        this.name = new.target.name;
    }
}
/** A digest string that is not `algorithm:hex` or uses an algorithm we cannot verify. */
export class DigestInvalidError extends LayerdError {
    code = 'DIGEST_INVALID';
}
/** A repository name that violates the distribution spec grammar (or tries `..`). */
export class NameInvalidError extends LayerdError {
    code = 'NAME_INVALID';
}
/** A Range header we cannot parse or satisfy. `size` is the blob size when known (for 416). */
export class RangeInvalidError extends LayerdError {
    size;
    code = 'RANGE_INVALID';
    constructor(message, size) {
        super(message);
        this.size = size;
    }
}
/** The blob is not in the store and no source can provide it. */
export class BlobUnknownError extends LayerdError {
    code = 'BLOB_UNKNOWN';
}
/** The manifest (by tag or digest) is unknown upstream and not cached. */
export class ManifestUnknownError extends LayerdError {
    code = 'MANIFEST_UNKNOWN';
}
/** The repository does not exist upstream. */
export class NameUnknownError extends LayerdError {
    code = 'NAME_UNKNOWN';
}
/** Upstream refused our credentials (or we have none and it wants some). */
export class UnauthorizedError extends LayerdError {
    code = 'UNAUTHORIZED';
}
/** Upstream denied access to the resource with valid credentials. */
export class DeniedError extends LayerdError {
    code = 'DENIED';
}
/** Upstream rate-limited us and retries ran out. */
export class TooManyRequestsError extends LayerdError {
    code = 'TOOMANYREQUESTS';
}
/** Push, delete and anything else a pull-only mirror does not do. */
export class UnsupportedError extends LayerdError {
    code = 'UNSUPPORTED';
}
/** `?ns=` or the default registry names a registry we have no URL for. */
export class RegistryUnknownError extends LayerdError {
    code = 'REGISTRY_UNKNOWN';
}
/** Upstream is unreachable, timed out, or kept failing after bounded retries. */
export class UpstreamUnavailableError extends LayerdError {
    code = 'UPSTREAM_UNAVAILABLE';
}
/** Upstream's TLS certificate could not be verified (a private CA without `caFile`, a wrong host name, expired). Not retried. */
export class UpstreamTlsError extends LayerdError {
    code = 'UPSTREAM_TLS';
}
/** The per-registry circuit breaker is open: we fail fast instead of waiting on a dead upstream. */
export class CircuitOpenError extends LayerdError {
    retryAfterMs;
    code = 'UPSTREAM_CIRCUIT_OPEN';
    constructor(message, retryAfterMs) {
        super(message);
        this.retryAfterMs = retryAfterMs;
    }
}
/** Upstream answered something that breaks the protocol (wrong length, changed ETag, 200 mid-resume, redirect loop). */
export class UpstreamProtocolError extends LayerdError {
    code = 'UPSTREAM_PROTOCOL';
}
/** A transfer made no progress for longer than the configured timeout. */
export class NoProgressError extends LayerdError {
    code = 'NO_PROGRESS';
}
/** The sha256 of the bytes does not match the digest. The bytes are discarded. */
export class DigestMismatchError extends LayerdError {
    expected;
    actual;
    code = 'DIGEST_MISMATCH';
    constructor(message, expected, actual) {
        super(message);
        this.expected = expected;
        this.actual = actual;
    }
}
/** A write failed because the disk (or quota) is full. Nothing partial is recorded. */
export class StoreFullError extends LayerdError {
    code = 'STORE_FULL';
}
/** Reading or writing the store failed for another reason. */
export class StoreIOError extends LayerdError {
    code = 'STORE_IO';
}
/** Bad configuration: `key` names the option, the message says what is wrong. */
export class ConfigError extends LayerdError {
    code = 'CONFIG_INVALID';
}
/**
 * A container client's file (hosts.toml, daemon.json, registries.conf) that `layerd setup` cannot
 * read, parse, write or change safely. The message names the file.
 */
export class ClientFileError extends LayerdError {
    code = 'CLIENT_FILE';
}
/** A request to the admin API that is malformed (not JSON, a field of the wrong type). */
export class InvalidRequestError extends LayerdError {
    code = 'INVALID_REQUEST';
}
/** An admin API job id (a `layerd pull`) that this agent does not know (never, or no longer). */
export class JobUnknownError extends LayerdError {
    code = 'JOB_UNKNOWN';
}
/** The operation was aborted by its caller (client went away, agent stopping). */
export class AbortedError extends LayerdError {
    code = 'ABORTED';
}
/** A peer sent a malformed, oversized or unexpected protocol frame. */
export class PeerProtocolError extends LayerdError {
    code = 'PEER_PROTOCOL';
}
/** A peer answered a range request with an error frame, or does not hold the bytes. */
export class PeerRangeError extends LayerdError {
    code = 'PEER_RANGE';
}
export function isLayerdError(err) {
    return err instanceof LayerdError;
}
export function errorMessage(err) {
    return err instanceof Error ? err.message : String(err);
}
//# sourceMappingURL=errors.js.map