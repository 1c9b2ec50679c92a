import bytes from 'bytes'
import ms from 'ms'
import { z } from 'zod'

// Every option, its type and its default, in one place. config/layerd.yaml documents the same
// options for users; test/unit/config checks that the two agree.

/** A size: a number of bytes or a string such as "50GiB", "8MiB". */
const size = z.union([z.number().int().nonnegative(), z.string()]).transform((v, ctx) => {
  if (typeof v === 'number') return v
  const n = bytes.parse(v.replace(/([KMGTP])iB$/i, '$1B'))
  if (n === null || !Number.isFinite(n) || n < 0) {
    ctx.addIssue({ code: 'custom', message: `expected a size such as 8MiB or 50GiB, got ${JSON.stringify(v)}` })
    return z.NEVER
  }
  return n
})

/** A duration: milliseconds, or a string such as "30s", "10m", "24h". */
const duration = z.union([z.number().int().nonnegative(), z.string()]).transform((v, ctx) => {
  if (typeof v === 'number') return v
  const n = ms(v as ms.StringValue)
  if (typeof n !== 'number' || !Number.isFinite(n) || n < 0) {
    ctx.addIssue({ code: 'custom', message: `expected a duration such as 30s, 10m or 24h, got ${JSON.stringify(v)}` })
    return z.NEVER
  }
  return n
})

const hostPort = z.string().regex(/^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, 'expected HOST:PORT, e.g. 127.0.0.1:5050')

const registryName = z.string().regex(/^[A-Za-z0-9.-]+(:\d{1,5})?$/, 'expected a registry host name such as docker.io or registry.example.com:5000')

const upstreamEntry = z.object({
  /** Base URL; its scheme decides TLS. */
  url: z.string().url().refine(u => /^https?:\/\//.test(u), 'must be an http:// or https:// URL'),
  /** Credentials: a user name and a file that holds the password (never the password itself). */
  username: z.string().min(1).optional(),
  passwordFile: z.string().min(1).optional(),
  /** Share blobs fetched with credentials with peers anyway (default false). */
  shareable: z.boolean().default(false)
}).strict().refine(u => (u.username === undefined) === (u.passwordFile === undefined), 'username and passwordFile go together')

export const configSchema = z.object({
  /** Registry API and /metrics listener. */
  listen: hostPort.default('127.0.0.1:5050'),
  /** Where blobs and the index live. Default: the per-user data directory (see cli). */
  dataDir: z.string().min(1).optional(),
  /** Registry used for requests without ?ns= (Docker sends none). */
  defaultRegistry: registryName.default('docker.io'),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Upstream registries by host name. docker.io is always there unless overridden. */
  upstreams: z.record(registryName, upstreamEntry).default({}),
  store: z.object({
    /** Disk quota for blob data; least recently used complete blobs are evicted above it. */
    maxBytes: size.default(50 * 1024 ** 3),
    /** Partial blobs nobody touched for this long are removed. */
    partialTtl: duration.default(24 * 3600_000),
    /** How often the agent runs GC (0 = never). */
    gcInterval: duration.default(10 * 60_000),
    /** Digests kept regardless of quota and TTL. */
    pinned: z.array(z.string().regex(/^sha256:[a-f0-9]{64}$/, 'expected sha256:<64 hex>')).default([]),
    /** Make bytes durable and record them in the index every this many bytes (or every second). */
    syncBytes: size.default(4 * 1024 * 1024)
  }).strict().prefault({}),
  fetch: z.object({
    /** Parallel upstream transfers for one blob (clients that fetch in chunks get them). */
    maxUpstreamStreams: z.number().int().min(1).max(32).default(4),
    /** Upstream requests ask for at most this much (a closed Range); a client waiting beyond gets its own request. */
    segmentBytes: size.default(32 * 1024 * 1024),
    /** Keep downloading a blob with no client attached for at most this long. */
    detachedTimeout: duration.default(10 * 60_000)
  }).strict().prefault({}),
  upstream: z.object({
    connectTimeout: duration.default(10_000),
    headersTimeout: duration.default(30_000),
    /** A transfer with no new byte for this long is resumed on a new connection. */
    noProgressTimeout: duration.default(30_000),
    /** Attempts per request (first try included). */
    maxAttempts: z.number().int().min(1).max(100).default(6),
    backoffBase: duration.default(250),
    backoffMax: duration.default(10_000),
    /** Consecutive failures that open a registry's circuit breaker... */
    breakerThreshold: z.number().int().min(1).default(5),
    /** ...and how long it stays open before one trial request. */
    breakerOpen: duration.default(30_000)
  }).strict().prefault({}),
  p2p: z.object({
    /** Switch the peer network off entirely. */
    enabled: z.boolean().default(true),
    /** libp2p listen multiaddrs. */
    listen: z.array(z.string().startsWith('/')).default(['/ip4/0.0.0.0/tcp/4050']),
    /** Static peers (multiaddrs) for networks without multicast. */
    peers: z.array(z.string().startsWith('/')).default([]),
    /** Find peers on the LAN with mDNS. */
    mdns: z.boolean().default(true),
    mdnsInterval: duration.default(10_000),
    /** File holding the office secret (`layerd secret` makes one). Without it, any layerd may join. */
    secretFile: z.string().min(1).optional(),
    /** Above the 2 transfers a fetching agent runs per peer, so a new request never races the release of the last one. */
    maxUploadsPerPeer: z.number().int().min(1).default(4),
    maxUploadsTotal: z.number().int().min(1).default(8),
    /** Upload cap to peers in bytes per second (0 = unlimited). */
    uploadRate: size.default(0)
  }).strict().prefault({})
}).strict()

export type LayerdConfig = z.output<typeof configSchema>
export type LayerdConfigInput = z.input<typeof configSchema>

export const DOCKER_HUB = 'https://registry-1.docker.io'
