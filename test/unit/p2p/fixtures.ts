// Shared fixtures for the p2p unit tests: an in-memory LocalBlobs and node factories.
// Every node listens on 127.0.0.1 with mdns: false (mDNS never runs in the root namespace).

import '../../../src/polyfill.js'
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { noise } from '@chainsafe/libp2p-noise'
import { identify } from '@libp2p/identify'
import { tcp } from '@libp2p/tcp'
import { yamux } from '@libp2p/yamux'
import { createLibp2p, type Libp2p } from 'libp2p'
import { PeerRangeError } from '../../../src/errors.js'
import { silentLogger } from '../../../src/log.js'
import { createMetrics, type Metrics } from '../../../src/metrics/metrics.js'
import { after, afterEach } from 'node:test'
import { createPeerNetwork, INVENTORY_PROTOCOL, PIECES_PROTOCOL, PeerRefusedError, RANGE_PROTOCOL, type LayerdPeerNetwork, type PeerNetworkInit } from '../../../src/p2p/index.js'
import { PIECE_SIZE, type InventoryChange, type InventoryEntry, type LocalBlobs, type Ranges } from '../../../src/p2p/types.js'

export function sha256 (data: Uint8Array): string {
  return 'sha256:' + createHash('sha256').update(data).digest('hex')
}

interface Blob { data: Uint8Array, ranges: Ranges, complete: boolean, fetching: boolean, claimed: Ranges }

export class FakeLocal implements LocalBlobs {
  readonly blobs = new Map<string, Blob>()
  private readonly listeners = new Set<(c: InventoryChange) => void>()
  /** Size of the chunks read() yields. */
  chunkSize = 1024 * 1024

  /** Add a blob (complete by default, or only `ranges`); returns its digest. */
  add (data: Uint8Array, ranges?: Ranges): string {
    const digest = sha256(data)
    const complete = ranges === undefined
    this.blobs.set(digest, { data, ranges: ranges ?? [[0, data.byteLength]], complete, fetching: !complete, claimed: [] })
    this.emit({ type: 'update', entry: this.entry(digest)! })
    return digest
  }

  /** Change the held ranges of a blob. */
  setRanges (digest: string, ranges: Ranges): void {
    const b = this.blobs.get(digest)!
    b.ranges = ranges
    b.complete = ranges.length === 1 && ranges[0][0] === 0 && ranges[0][1] === b.data.byteLength
    this.emit({ type: 'update', entry: this.entry(digest)! })
  }

  /** Change the ranges the blob's holder says it is fetching from upstream. */
  setClaimed (digest: string, claimed: Ranges): void {
    this.blobs.get(digest)!.claimed = claimed
    this.emit({ type: 'update', entry: this.entry(digest)! })
  }

  remove (digest: string): void {
    this.blobs.delete(digest)
    this.emit({ type: 'remove', digest })
  }

  entry (digest: string): InventoryEntry | undefined {
    const b = this.blobs.get(digest)
    if (b === undefined) return undefined
    return { digest, size: b.data.byteLength, complete: b.complete, ranges: b.ranges.map(r => [r[0], r[1]]), fetching: b.fetching, claimed: b.claimed.map(r => [r[0], r[1]]) }
  }

  private emit (c: InventoryChange): void {
    for (const l of this.listeners) l(c)
  }

  async inventory (): Promise<InventoryEntry[]> {
    return [...this.blobs.keys()].map(d => this.entry(d)!)
  }

  onChange (listener: (change: InventoryChange) => void): () => void {
    this.listeners.add(listener)
    return () => { this.listeners.delete(listener) }
  }

  async * read (digest: string, start: number, end: number, signal?: AbortSignal): AsyncIterable<Uint8Array> {
    const b = this.blobs.get(digest)
    if (b === undefined) throw new PeerRangeError('unknown blob')
    if (end > b.data.byteLength || start > end) throw new PeerRangeError('out of bounds')
    if (!b.ranges.some(([s, e]) => s <= start && end <= e)) throw new PeerRangeError('not held')
    for (let off = start; off < end; off += this.chunkSize) {
      signal?.throwIfAborted()
      yield b.data.subarray(off, Math.min(end, off + this.chunkSize))
    }
  }

  async pieceHashes (digest: string): Promise<Uint8Array[] | undefined> {
    const b = this.blobs.get(digest)
    if (b === undefined || !b.complete) return undefined
    const out: Uint8Array[] = []
    for (let off = 0; off < b.data.byteLength; off += PIECE_SIZE) {
      out.push(createHash('sha256').update(b.data.subarray(off, off + PIECE_SIZE)).digest())
    }
    return out
  }
}

export interface TestNode {
  net: LayerdPeerNetwork
  local: FakeLocal
  metrics: Metrics
  dataDir: string
  addr: string
}

const dirs: string[] = []

export function tempDir (): string {
  const d = mkdtempSync(join(tmpdir(), 'layerd-p2p-test-'))
  dirs.push(d)
  return d
}

export function cleanupDirs (): void {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
}

export async function startNode (opts: Partial<PeerNetworkInit> & { local?: FakeLocal } = {}): Promise<TestNode> {
  const local = opts.local ?? new FakeLocal()
  const metrics = opts.metrics ?? createMetrics({ defaultMetrics: false })
  const dataDir = opts.dataDir ?? tempDir()
  const net = createPeerNetwork({
    listen: ['/ip4/127.0.0.1/tcp/0'],
    mdns: false,
    inventoryThrottleMs: 50,
    redialMinMs: 100,
    redialMaxMs: 500,
    requestTimeoutMs: 5_000,
    logger: silentLogger(),
    ...opts,
    dataDir,
    local,
    metrics
  })
  await net.start()
  const addr = net.multiaddrs()[0]
  return { net, local, metrics, dataDir, addr }
}

export async function waitFor (cond: () => boolean, timeoutMs = 5_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 20))
  }
}

/** Reject if `p` does not settle within `ms`. */
export async function within<T> (p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  try {
    return await Promise.race([p, new Promise<never>((_resolve, reject) => { timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms) })])
  } finally {
    clearTimeout(timer)
  }
}

/** Every byte of a fetch, copied as it comes: a fetch's chunk is only ours until the next one (PeerTransfers.fetchRange). */
export async function collect (it: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = []
  for await (const c of it) parts.push(Buffer.from(c))
  return Buffer.concat(parts)
}

export function random (n: number): Buffer {
  return randomBytes(n)
}

/** A bare libp2p node (same stack, no layerd logic) that claims the layerd protocols, for garbage tests. */
export async function rawPeer (): Promise<Libp2p> {
  const node = await createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: { identify: identify() }
  })
  // Register the protocols so the agent sees a layerd peer; the handlers ignore what comes in.
  for (const p of [INVENTORY_PROTOCOL, RANGE_PROTOCOL, PIECES_PROTOCOL]) {
    await node.handle(p, stream => { stream.addEventListener('message', () => {}) })
  }
  return node
}

/** A free TCP port on 127.0.0.1 (for restart tests that need a stable address). */
export async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const srv = createServer()
    srv.once('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port
      srv.close(() => resolve(port))
    })
  })
}

export async function counterValue (metrics: Metrics, name: 'peerFailures' | 'peerBytesIn' | 'peerBytesOut', match: Record<string, string> = {}): Promise<number> {
  const m = await metrics[name].get()
  let sum = 0
  for (const v of m.values) {
    if (Object.entries(match).every(([k, want]) => String((v.labels as Record<string, unknown>)[k]) === want)) sum += v.value
  }
  return sum
}

/**
 * For a test file: node(), pair() and raw() start nodes that are stopped after each test (each stop
 * bounded), and temp dirs are removed at the end. Call once at the top of the file.
 */
/** A holds `data`, B is A's peer and has seen it in A's inventory. */
export interface HoldingPair { a: TestNode, b: TestNode, d: string }

export function useNodes (): { node: typeof startNode, raw: typeof rawPeer, pair: (data: Buffer, aOpts?: Parameters<typeof startNode>[0], bOpts?: Parameters<typeof startNode>[0]) => Promise<HoldingPair> } {
  const running: Array<{ stop: () => Promise<void> | void }> = []
  afterEach(async () => {
    await Promise.allSettled(running.splice(0).map(async n => await within(Promise.resolve(n.stop()), 10_000, 'stop')))
  })
  after(() => { cleanupDirs() })
  const node = async (opts: Parameters<typeof startNode>[0] = {}): Promise<TestNode> => {
    const n = await startNode(opts)
    running.push(n.net)
    return n
  }
  return {
    node,
    pair: async (data, aOpts = {}, bOpts = {}) => {
      const a = await node(aOpts)
      const b = await node({ ...bOpts, peers: [a.addr] })
      const d = a.local.add(data)
      await waitFor(() => b.net.router.holders(d).length === 1, 5000, 'inventory')
      return { a, b, d }
    },
    raw: async () => {
      const r = await rawPeer()
      running.push(r)
      return r
    }
  }
}

export async function expectRefused (p: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof PeerRefusedError, `expected PeerRefusedError, got ${String(err)}`)
    assert.equal(err.peerCode, code)
    return true
  })
}
