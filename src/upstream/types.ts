// The seam between the fetch session and a remote OCI registry. Implemented by
// src/upstream/client.ts; the session and the registry edge only see these types.

export interface RegistryCredentials {
  username: string
  password: string
}

export interface UpstreamRegistry {
  /** Registry host name as clients know it, e.g. `docker.io`, `upstream.test`. */
  name: string
  /** Base URL; its scheme decides TLS, e.g. `https://registry-1.docker.io`. */
  url: string
  credentials?: RegistryCredentials
  /**
   * Extra trusted CA certificates (PEM), in addition to the system's, for every request made for
   * this registry: its API, its token realm and the hosts it redirects to.
   */
  ca?: string
}

export interface ManifestResult {
  /** Raw manifest bytes exactly as upstream sent them (the digest is over these bytes). */
  body: Buffer
  mediaType: string
  /** sha256 of body, `sha256:<hex>`; verified by the client against Docker-Content-Digest when given. */
  digest: string
}

export interface ManifestHead {
  mediaType: string
  digest: string
  size: number
}

export interface BlobStream {
  /** Total size of the blob (from Content-Range or Content-Length). */
  size: number
  /** Bytes starting exactly at the requested offset (a 200 to a ranged request is skipped forward). */
  body: AsyncIterable<Uint8Array>
}

export interface BlobFetchOptions {
  /** First byte wanted. */
  start: number
  /** One past the last byte wanted; undefined = to the end of the blob. */
  end?: number
  signal?: AbortSignal
  /** Called each time a broken transfer is resumed at `offset` (attempt counts from 1). */
  onResume?: (offset: number, attempt: number) => void
}

export interface Upstream {
  /** The registry configured under `name` (throws RegistryUnknownError). */
  registry (name: string): UpstreamRegistry
  /** True when requests to this registry carry credentials (blobs from it are not shared by default). */
  isCredentialed (name: string): boolean
  /** GET a manifest by tag or digest, passing the client's Accept list. */
  getManifest (registry: string, repository: string, reference: string, accept: string[], signal?: AbortSignal): Promise<ManifestResult>
  /** HEAD a manifest by tag or digest. */
  headManifest (registry: string, repository: string, reference: string, accept: string[], signal?: AbortSignal): Promise<ManifestHead>
  /** HEAD a blob: its size, or BlobUnknownError. */
  statBlob (registry: string, repository: string, digest: string, signal?: AbortSignal): Promise<{ size: number }>
  /**
   * GET a blob range, resuming transparently (Range: bytes=<next>- with a strong-ETag check) when the
   * connection breaks, with bounded retries, backoff + jitter, Retry-After, a no-progress timeout and
   * a per-registry circuit breaker. Resolves once response headers arrived (so `size` is known).
   */
  fetchBlob (registry: string, repository: string, digest: string, opts: BlobFetchOptions): Promise<BlobStream>
  /** A neighbour was rate-limited by this registry: make no request to it before `untilMs`. True when that lengthened the pause. */
  pause (registry: string, untilMs: number): boolean
  /** Hear when a registry rate-limits us with a Retry-After (to tell the office); returns unsubscribe. */
  onRateLimited (fn: (registry: string, untilMs: number) => void): () => void
  close (): Promise<void>
}
