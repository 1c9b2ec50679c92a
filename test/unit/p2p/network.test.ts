import { after, afterEach, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { statSync } from 'node:fs'
import { join } from 'node:path'
import { multiaddr } from '@multiformats/multiaddr'
import type { Libp2p } from 'libp2p'
import { AbortedError, PeerProtocolError } from '../../../src/errors.js'
import { PeerRefusedError, RANGE_PROTOCOL, INVENTORY_PROTOCOL, StreamReader, PEER_KEY_FILE, createPeerNetwork } from '../../../src/p2p/index.js'
import { createMetrics } from '../../../src/metrics/metrics.js'
import { silentLogger } from '../../../src/log.js'
import { FakeLocal, cleanupDirs, collect, counterValue, freePort, random, rawPeer, sha256, startNode, tempDir, waitFor, within, type TestNode } from './fixtures.js'

const MiB = 1024 * 1024
const running: Array<{ stop: () => Promise<void> | void }> = []

async function node (opts: Parameters<typeof startNode>[0] = {}): Promise<TestNode> {
  const n = await startNode(opts)
  running.push(n.net)
  return n
}

async function raw (): Promise<Libp2p> {
  const r = await rawPeer()
  running.push(r)
  return r
}

afterEach(async () => {
  await Promise.allSettled(running.splice(0).map(async n => await within(Promise.resolve(n.stop()), 10_000, 'stop')))
})
after(() => { cleanupDirs() })

async function expectRefused (p: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof PeerRefusedError, `expected PeerRefusedError, got ${String(err)}`)
    assert.equal(err.peerCode, code)
    return true
  })
}

describe('p2p inventory', () => {
  it('exchanges inventories, updates and removals; a disconnected peer disappears', async () => {
    const a = await node()
    const b = await node({ peers: [a.addr] })
    const d1 = a.local.add(random(3000))
    const blob2 = random(10_000)
    const d2 = b.local.add(blob2, [[0, 4000], [6000, 8000]])

    await waitFor(() => b.net.router.holders(d1).length === 1 && a.net.router.holders(d2).length === 1, 5000, 'initial inventories')
    assert.deepEqual(b.net.router.holders(d1), [{ peerId: a.net.peerId, size: 3000, complete: true, ranges: [[0, 3000]], fetching: false, claimed: [] }])
    assert.deepEqual(a.net.router.holders(d2), [{ peerId: b.net.peerId, size: 10_000, complete: false, ranges: [[0, 4000], [6000, 8000]], fetching: true, claimed: [] }])

    // what a fetching holder claims from upstream travels with its entry
    b.local.setClaimed(d2, [[4000, 6000], [8000, 10_000]])
    await waitFor(() => a.net.router.holders(d2)[0]?.claimed.length === 2, 5000, 'claimed ranges')
    assert.deepEqual(a.net.router.holders(d2)[0].claimed, [[4000, 6000], [8000, 10_000]])

    const changed: string[] = []
    const unsubscribe = a.net.router.onChange(d => changed.push(d))
    // update: more ranges arrive (several quick changes are throttled; the last one must win)
    b.local.setRanges(d2, [[0, 5000], [6000, 8000]])
    b.local.setRanges(d2, [[0, 9000]])
    b.local.setRanges(d2, [[0, 10_000]])
    await waitFor(() => a.net.router.holders(d2)[0]?.complete === true, 5000, 'update')
    assert.deepEqual(a.net.router.holders(d2)[0].ranges, [[0, 10_000]])
    assert.ok(changed.includes(d2))

    // a new blob, then a removal
    const d3 = a.local.add(random(100))
    await waitFor(() => b.net.router.holders(d3).length === 1, 5000, 'new blob')
    a.local.remove(d1)
    await waitFor(() => b.net.router.holders(d1).length === 0, 5000, 'removal')
    unsubscribe()

    const infoB = a.net.peers().find(p => p.peerId === b.net.peerId)
    assert.ok(infoB !== undefined)
    assert.equal(infoB.blobs, 1)
    assert.equal(infoB.completeBlobs, 1)
    assert.equal(infoB.bytes, 10_000)
    assert.ok(infoB.addresses.length > 0)

    await b.net.stop()
    await waitFor(() => a.net.router.holders(d2).length === 0 && a.net.peers().length === 0, 5000, 'disconnect')
  })

  it('reconnects to a restarted static peer given without /p2p/, with a stable peer id', async () => {
    const port = await freePort()
    const dataDir = tempDir()
    const a1 = await startNode({ dataDir, listen: [`/ip4/127.0.0.1/tcp/${port}`] })
    const d = a1.local.add(random(500))
    const b = await node({ peers: [`/ip4/127.0.0.1/tcp/${port}`] })
    await waitFor(() => b.net.router.holders(d).length === 1, 5000, 'first connection')
    const id1 = a1.net.peerId
    await a1.net.stop()
    await waitFor(() => b.net.router.holders(d).length === 0, 5000, 'peer gone')

    const a2 = await node({ dataDir, listen: [`/ip4/127.0.0.1/tcp/${port}`], local: a1.local })
    assert.equal(a2.net.peerId, id1, 'same dataDir gives the same peer id')
    assert.equal(statSync(join(dataDir, PEER_KEY_FILE)).mode & 0o777, 0o600)
    await waitFor(() => b.net.router.holders(d).length === 1, 8000, 'reconnection after restart')
    assert.equal(b.net.router.holders(d)[0].peerId, id1)
  })

  it('a fresh dataDir gives a different identity; createPeerNetwork knows its id before start', () => {
    const mk = (dataDir: string) => createPeerNetwork({ dataDir, local: new FakeLocal(), metrics: createMetrics({ defaultMetrics: false }), logger: silentLogger(), mdns: false })
    const dir = tempDir()
    const x = mk(dir)
    const y = mk(dir)
    const z = mk(tempDir())
    assert.match(x.peerId, /^12D3KooW/)
    assert.equal(x.peerId, y.peerId)
    assert.notEqual(x.peerId, z.peerId)
  })
})

describe('p2p range protocol', () => {
  it('returns exactly the requested bytes of a multi-MiB range; piece hashes match', async () => {
    const a = await node()
    const b = await node({ peers: [a.addr] })
    const data = random(24 * MiB + 123)
    const d = a.local.add(data)
    await waitFor(() => b.net.router.holders(d).length === 1, 5000, 'inventory')

    const start = 12_345
    const end = start + 20 * MiB + 7
    const got = await within(collect(b.net.transfers.fetchRange(a.net.peerId, d, start, end)), 30_000, 'fetchRange')
    assert.equal(got.byteLength, end - start)
    assert.equal(sha256(got), sha256(data.subarray(start, end)))
    assert.equal(await counterValue(b.metrics, 'peerBytesIn', { peer: a.net.peerId }), end - start)
    await waitFor(() => true)
    assert.equal(await counterValue(a.metrics, 'peerBytesOut', { peer: b.net.peerId }), end - start)

    // the whole blob, and a one-byte range at the very end
    assert.equal(sha256(await collect(b.net.transfers.fetchRange(a.net.peerId, d, 0, data.byteLength))), d)
    assert.deepEqual([...await collect(b.net.transfers.fetchRange(a.net.peerId, d, data.byteLength - 1, data.byteLength))], [data[data.byteLength - 1]])
    assert.equal((await collect(b.net.transfers.fetchRange(a.net.peerId, d, 5, 5))).byteLength, 0)

    const hashes = await b.net.transfers.fetchPieceHashes(a.net.peerId, d)
    assert.ok(hashes !== undefined)
    assert.deepEqual(hashes.map(h => Buffer.from(h).toString('hex')), (await a.local.pieceHashes(d))!.map(h => Buffer.from(h).toString('hex')))
    assert.equal(hashes.length, 7)
  })

  it('answers error frames: unknown digest, bytes not held, out of bounds; pieces of a partial blob', async () => {
    const a = await node()
    const b = await node({ peers: [a.addr] })
    const data = random(64 * 1024)
    const d = a.local.add(data, [[0, 1000]])
    await waitFor(() => b.net.router.holders(d).length === 1, 5000, 'inventory')
    const unknown = sha256(random(10))
    await expectRefused(collect(b.net.transfers.fetchRange(a.net.peerId, unknown, 0, 10)), 'BLOB_UNKNOWN')
    await expectRefused(collect(b.net.transfers.fetchRange(a.net.peerId, d, 500, 1500)), 'RANGE_NOT_HELD')
    await expectRefused(collect(b.net.transfers.fetchRange(a.net.peerId, d, 60_000, 70_000)), 'OUT_OF_BOUNDS')
    // a good request on the same connection still works
    assert.deepEqual(await collect(b.net.transfers.fetchRange(a.net.peerId, d, 10, 900)), data.subarray(10, 900))
    assert.equal(await b.net.transfers.fetchPieceHashes(a.net.peerId, d), undefined)
    assert.equal(await b.net.transfers.fetchPieceHashes(a.net.peerId, unknown), undefined)
    assert.ok(await counterValue(b.metrics, 'peerFailures', { reason: 'refused-blob_unknown' }) >= 1)
  })

  it('answers BUSY beyond the per-peer upload limit', async () => {
    const a = await node({ maxUploadsPerPeer: 1, maxUploadsTotal: 8, uploadBytesPerSecond: 2 * MiB })
    const b = await node({ peers: [a.addr] })
    const data = random(8 * MiB)
    const d = a.local.add(data)
    await waitFor(() => b.net.router.holders(d).length === 1, 5000, 'inventory')

    const ac = new AbortController()
    const first = b.net.transfers.fetchRange(a.net.peerId, d, 0, data.byteLength, ac.signal)[Symbol.asyncIterator]()
    assert.equal((await first.next()).done, false) // the first upload is now running (rate-limited)
    await expectRefused(collect(b.net.transfers.fetchRange(a.net.peerId, d, 0, 1000)), 'BUSY')
    ac.abort()
    await assert.rejects(async () => { while (!(await first.next()).done) { /* drain */ } }, AbortedError)
    // the slot is released once the aborted upload unwinds
    await waitFor(() => true)
    let ok = false
    for (let i = 0; i < 50 && !ok; i++) {
      try {
        assert.deepEqual(await collect(b.net.transfers.fetchRange(a.net.peerId, d, 0, 1000)), data.subarray(0, 1000))
        ok = true
      } catch (err) {
        if (!(err instanceof PeerRefusedError && err.peerCode === 'BUSY')) throw err
        await new Promise(resolve => setTimeout(resolve, 50))
      }
    }
    assert.ok(ok, 'slot released after abort')
  })

  it('answers BUSY beyond the total upload limit', async () => {
    const a = await node({ maxUploadsPerPeer: 4, maxUploadsTotal: 1, uploadBytesPerSecond: 2 * MiB })
    const b = await node({ peers: [a.addr] })
    const c = await node({ peers: [a.addr] })
    const d = a.local.add(random(8 * MiB))
    await waitFor(() => b.net.router.holders(d).length === 1 && c.net.router.holders(d).length === 1, 5000, 'inventory')
    const ac = new AbortController()
    const first = b.net.transfers.fetchRange(a.net.peerId, d, 0, 8 * MiB, ac.signal)[Symbol.asyncIterator]()
    assert.equal((await first.next()).done, false)
    await expectRefused(collect(c.net.transfers.fetchRange(a.net.peerId, d, 0, 1000)), 'BUSY')
    ac.abort()
    await assert.rejects(async () => { while (!(await first.next()).done) { /* drain */ } })
  })

  it('a peer stopped mid-transfer makes fetchRange throw, not hang', async () => {
    const a = await node({ uploadBytesPerSecond: 4 * MiB })
    const b = await node({ peers: [a.addr] })
    const d = a.local.add(random(32 * MiB))
    await waitFor(() => b.net.router.holders(d).length === 1, 5000, 'inventory')
    let received = 0
    const consume = (async () => {
      for await (const chunk of b.net.transfers.fetchRange(a.net.peerId, d, 0, 32 * MiB)) {
        received += chunk.byteLength
        if (received > 0 && received < 2 * MiB) void a.net.stop()
      }
    })()
    await within(assert.rejects(consume, (err: unknown) => {
      assert.ok(err instanceof PeerProtocolError, `expected PeerProtocolError, got ${String(err)}`)
      return true
    }), 15_000, 'fetchRange after peer stop')
    assert.ok(received < 32 * MiB)
    await waitFor(() => b.net.router.holders(d).length === 0, 5000, 'holder gone')
  })

  it('honours an AbortSignal', async () => {
    const a = await node({ uploadBytesPerSecond: 2 * MiB })
    const b = await node({ peers: [a.addr] })
    const d = a.local.add(random(8 * MiB))
    await waitFor(() => b.net.router.holders(d).length === 1, 5000, 'inventory')
    const ac = new AbortController()
    setTimeout(() => ac.abort(), 300)
    await within(assert.rejects(collect(b.net.transfers.fetchRange(a.net.peerId, d, 0, 8 * MiB, ac.signal)), AbortedError), 5000, 'abort')
  })
})

describe('p2p robustness', () => {
  it('a malformed or oversized frame closes that stream, counts a failure, and the node keeps serving others', async () => {
    const a = await node()
    const good = await node({ peers: [a.addr] })
    const data = random(2 * MiB)
    const d = a.local.add(data)
    await waitFor(() => good.net.router.holders(d).length === 1, 5000, 'inventory')
    const r = await raw()
    const target = multiaddr(a.addr)

    const closed = async (s: { status: string, addEventListener: (t: 'close', f: () => void) => void }, what = ''): Promise<void> => {
      if (s.status !== 'open') return
      await within(new Promise<void>(resolve => s.addEventListener('close', () => resolve())), 5000, `stream close (${what})`)
    }

    // 1. garbage JSON on the inventory stream
    const s1 = await r.dialProtocol(target, INVENTORY_PROTOCOL)
    const garbage = Buffer.from('{"type":"inventory","done":true,"entries":[{"digest":"sha256:xyz"')
    const hdr = Buffer.alloc(4); hdr.writeUInt32BE(garbage.length)
    s1.send(Buffer.concat([hdr, garbage]))
    await closed(s1, 's1')

    // 2. valid JSON with an invalid entry (ranges overlap)
    const s2 = await r.dialProtocol(target, INVENTORY_PROTOCOL)
    const bad = Buffer.from(JSON.stringify({ type: 'inventory', done: true, entries: [{ digest: d, size: 100, complete: false, fetching: false, ranges: [[0, 50], [40, 60]] }] }))
    const hdr2 = Buffer.alloc(4); hdr2.writeUInt32BE(bad.length)
    s2.send(Buffer.concat([hdr2, bad]))
    await closed(s2, 's2')

    // 3. an oversized frame header (2 MiB > 1 MiB limit)
    const s3 = await r.dialProtocol(target, INVENTORY_PROTOCOL)
    const big = Buffer.alloc(4 + 64 * 1024); big.writeUInt32BE(2 * MiB)
    s3.send(big)
    await closed(s3, 's3')

    // 4. garbage on the range protocol: BAD_REQUEST or a closed stream
    const s4 = await r.dialProtocol(target, RANGE_PROTOCOL)
    const reader = new StreamReader(s4)
    const req = Buffer.from('[1,2,3]')
    const hdr4 = Buffer.alloc(4); hdr4.writeUInt32BE(req.length)
    s4.send(Buffer.concat([hdr4, req]))
    const answer = await within(reader.readFrame(4096), 5000, 'range answer')
    assert.ok(answer !== null)
    assert.equal(JSON.parse(Buffer.from(answer).toString()).code, 'BAD_REQUEST')
    await closed(s4, 's4')

    // 5. an oversized range request
    const s5 = await r.dialProtocol(target, RANGE_PROTOCOL)
    const big5 = Buffer.alloc(8); big5.writeUInt32BE(100_000)
    s5.send(big5)
    await closed(s5, 's5')

    const failures = await counterValue(a.metrics, 'peerFailures', { peer: r.peerId.toString() })
    assert.ok(failures >= 5, `expected at least 5 failures, got ${failures}`)
    assert.ok(await counterValue(a.metrics, 'peerFailures', { reason: 'frame-oversized' }) >= 2)
    // the raw peer's bogus inventory never reached the table
    assert.deepEqual(a.net.router.holders(d), [])

    // the node still serves the well-behaved peer
    assert.equal(sha256(await within(collect(good.net.transfers.fetchRange(a.net.peerId, d, 0, data.byteLength)), 10_000, 'fetch')), d)
    const d2 = a.local.add(random(10))
    await waitFor(() => good.net.router.holders(d2).length === 1, 5000, 'inventory after garbage')
  })

  it('different office secrets never connect; the same secret does', async () => {
    const secret = Buffer.from('office-one')
    const a = await node({ secret })
    const d = a.local.add(random(100))
    const other = await node({ secret: Buffer.from('office-two'), peers: [a.addr] })
    const none = await node({ peers: [a.addr] })
    const same = await node({ secret: Buffer.from('office-one'), peers: [a.addr] })
    await waitFor(() => same.net.router.holders(d).length === 1, 5000, 'same-secret peer')
    await new Promise(resolve => setTimeout(resolve, 1500)) // several re-dial attempts
    assert.deepEqual(other.net.peers(), [])
    assert.deepEqual(none.net.peers(), [])
    assert.deepEqual(other.net.router.holders(d), [])
    assert.deepEqual(a.net.peers().map(p => p.peerId), [same.net.peerId])
    assert.equal(a.net.libp2p!.getConnections().length, 1)
  })

  it('a banned peer is left out of holders() and its requests are refused', async () => {
    const a = await node()
    const b = await node({ peers: [a.addr] })
    const da = a.local.add(random(1000))
    const db = b.local.add(random(1000))
    await waitFor(() => b.net.router.holders(da).length === 1 && a.net.router.holders(db).length === 1, 5000, 'inventory')
    const changed: string[] = []
    b.net.router.onChange(x => changed.push(x))
    b.net.health.ban(a.net.peerId, 600, 'sent bad bytes')
    assert.deepEqual(b.net.router.holders(da), [])
    assert.ok(changed.includes(da))
    assert.equal(b.net.peers().find(p => p.peerId === a.net.peerId)?.bannedUntil !== undefined, true)
    // A asks B: refused
    await expectRefused(collect(a.net.transfers.fetchRange(b.net.peerId, db, 0, 10)), 'BANNED')
    // B does not fetch from a banned peer either
    await assert.rejects(collect(b.net.transfers.fetchRange(a.net.peerId, da, 0, 10)))
    // the ban expires
    await waitFor(() => b.net.router.holders(da).length === 1, 3000, 'ban expiry')
    assert.equal((await collect(a.net.transfers.fetchRange(b.net.peerId, db, 0, 10))).byteLength, 10)
  })
})

describe('p2p throughput', { skip: process.env.LAYERD_P2P_BENCH_MIB === undefined ? 'set LAYERD_P2P_BENCH_MIB to measure' : false }, () => {
  it('one fetchRange on loopback vs a plain TCP socket', async () => {
    const mib = Number(process.env.LAYERD_P2P_BENCH_MIB)
    const size = mib * MiB
    const data = random(size)
    const a = await node()
    a.local.chunkSize = 256 * 1024
    const b = await node({ peers: [a.addr] })
    const d = a.local.add(data)
    await waitFor(() => b.net.router.holders(d).length === 1, 5000, 'inventory')

    const { createServer, connect } = await import('node:net')
    const tcpRun = async (): Promise<number> => {
      const srv = createServer(sock => {
        let off = 0
        const pump = (): void => {
          while (off < size) {
            const chunk = data.subarray(off, off + 256 * 1024)
            off += chunk.byteLength
            if (!sock.write(chunk)) { sock.once('drain', pump); return }
          }
          sock.end()
        }
        pump()
      })
      await new Promise<void>(resolve => srv.listen(0, '127.0.0.1', resolve))
      const port = (srv.address() as { port: number }).port
      const t0 = performance.now()
      let n = 0
      await new Promise<void>((resolve, reject) => {
        const c = connect(port, '127.0.0.1')
        c.on('data', (buf: Buffer) => { n += buf.byteLength })
        c.on('end', resolve)
        c.on('error', reject)
      })
      const ms = performance.now() - t0
      srv.close()
      assert.equal(n, size)
      return size / 1e6 / (ms / 1000)
    }
    const p2pRun = async (): Promise<number> => {
      const t0 = performance.now()
      let n = 0
      for await (const c of b.net.transfers.fetchRange(a.net.peerId, d, 0, size)) n += c.byteLength
      const ms = performance.now() - t0
      assert.equal(n, size)
      return size / 1e6 / (ms / 1000)
    }
    const results: Record<string, number[]> = { tcp: [], p2p: [] }
    for (let i = 0; i < 3; i++) {
      results.tcp.push(await tcpRun())
      results.p2p.push(await p2pRun())
    }
    const med = (xs: number[]): number => [...xs].sort((x, y) => x - y)[1]
    console.log(`throughput ${mib} MiB (same process, MB/s) tcp=${results.tcp.map(x => x.toFixed(0)).join('/')} median ${med(results.tcp).toFixed(0)}; p2p=${results.p2p.map(x => x.toFixed(0)).join('/')} median ${med(results.p2p).toFixed(0)}`)
  })
})
