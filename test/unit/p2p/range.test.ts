// The range and pieces protocols through the facade: exact bytes, error frames, upload slots,
// a peer that stops mid-transfer, abort.

import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { AbortedError, PeerProtocolError } from '../../../src/errors.js'
import { PeerRefusedError } from '../../../src/p2p/index.js'
import { collect, counterValue, expectRefused, random, sha256, useNodes, waitFor, within } from './fixtures.js'

const MiB = 1024 * 1024
const { node, pair } = useNodes()

describe('p2p range protocol', () => {
  it('returns exactly the requested bytes of a multi-MiB range; piece hashes match', async () => {
    const data = random(24 * MiB + 123)
    const { a, b, d } = await pair(data)

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
    const data = random(8 * MiB)
    const { a, b, d } = await pair(data, { maxUploadsPerPeer: 1, maxUploadsTotal: 8, uploadBytesPerSecond: 2 * MiB })

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
    const { a, b, d } = await pair(random(32 * MiB), { uploadBytesPerSecond: 4 * MiB })
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
    const { a, b, d } = await pair(random(8 * MiB), { uploadBytesPerSecond: 2 * MiB })
    const ac = new AbortController()
    setTimeout(() => ac.abort(), 300)
    await within(assert.rejects(collect(b.net.transfers.fetchRange(a.net.peerId, d, 0, 8 * MiB, ac.signal)), AbortedError), 5000, 'abort')
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
