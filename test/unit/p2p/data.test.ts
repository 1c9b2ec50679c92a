// The data plane: bulk bytes over HTTPS with a pre-shared key, office members only, and the
// libp2p range protocol as the fallback for a peer without one.

import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { connect } from 'node:tls'
import { once } from 'node:events'
import { createServer as createNetServer } from 'node:net'
import { DATA_TLS, dataKey } from '../../../src/p2p/data/keys.js'
import { collect, counterValue, freePort, random, sha256, useNodes, within } from './fixtures.js'

const MiB = 1024 * 1024
const { node, pair } = useNodes()

/** Try a TLS handshake with the data server of `port` as `identity` with `key`; resolves with the outcome. */
async function handshake (port: number, identity: string, key: Buffer): Promise<'ok' | 'refused'> {
  return await new Promise(resolve => {
    const s = connect({ port, host: '127.0.0.1', ...DATA_TLS, pskCallback: () => ({ psk: key, identity }), checkServerIdentity: () => undefined })
    s.once('secureConnect', () => { s.destroy(); resolve('ok') })
    s.once('error', () => { s.destroy(); resolve('refused') })
  })
}

describe('p2p data plane', () => {
  it('bytes of a blob go over the data plane: exact, counted, and the data port answers only office members', async () => {
    const secret = Buffer.from('office secret for the data plane test')
    const data = random(9 * MiB + 77)
    const { a, b, d } = await pair(data, { secret }, { secret })
    const got = await within(collect(b.net.transfers.fetchRange(a.net.peerId, d, 1000, data.length)), 20_000, 'fetchRange')
    assert.equal(sha256(got), sha256(data.subarray(1000)))
    assert.equal(await counterValue(b.metrics, 'peerBytesIn', { peer: a.net.peerId }), data.length - 1000)
    const port = a.net.dataPort
    assert.ok(port !== undefined && port > 0, 'A has a data port')
    // B's key works; the same identity with another secret, or an agent A never met, does not.
    assert.equal(await handshake(port, b.net.peerId, dataKey(secret, b.net.peerId, a.net.peerId)), 'ok')
    assert.equal(await handshake(port, b.net.peerId, dataKey(Buffer.from('another secret'), b.net.peerId, a.net.peerId)), 'refused')
    const c = await node({ secret })
    assert.equal(await handshake(port, c.net.peerId, dataKey(secret, c.net.peerId, a.net.peerId)), 'refused', 'not connected over libp2p')
  })

  it('a piece that arrives slowly is announced by heartbeats (empty chunks) before it is whole', async () => {
    // 2 MiB/s: the 4 MiB piece takes ~2 s to arrive, longer than any single silence we allow.
    const data = random(4 * MiB)
    const { a, b, d } = await pair(data, { uploadBytesPerSecond: 2 * MiB })
    const hashes = await a.local.pieceHashes(d)
    assert.ok(hashes !== undefined)
    const beats: number[] = []
    const parts: Uint8Array[] = []
    const t0 = Date.now()
    for await (const c of b.net.transfers.fetchRange(a.net.peerId, d, 0, data.length, undefined, { size: data.length, hashes })) {
      if (c.byteLength === 0) beats.push(Date.now() - t0)
      else parts.push(Buffer.from(c)) // a copy: the chunk is lent only until the next one
    }
    assert.equal(sha256(Buffer.concat(parts)), d)
    assert.ok(beats.length >= 2, `heartbeats while the piece arrived: ${beats.length}`)
    // No silence between them longer than a second (the worker reports every 500 ms).
    const gaps = beats.map((t, i) => t - (beats[i - 1] ?? 0))
    assert.ok(Math.max(...gaps) < 1500, `gaps between heartbeats: ${gaps.join(', ')} ms`)
  })

  it('a banned peer is refused at the handshake', async () => {
    const { a, b } = await pair(random(100_000))
    a.net.health.ban(b.net.peerId, 60_000, 'test')
    assert.equal(await handshake(a.net.dataPort!, b.net.peerId, dataKey(undefined, b.net.peerId, a.net.peerId)), 'refused')
  })

  it('a fetch cancelled while the data endpoint is asked leaves the others on the data plane', async () => {
    const data = random(2 * MiB)
    const { a, b, d } = await pair(data)
    // Both start before the endpoint question is answered; the first is cancelled at once.
    const ac = new AbortController()
    const first = b.net.transfers.fetchRange(a.net.peerId, d, 0, data.length, ac.signal)[Symbol.asyncIterator]().next()
    const second = collect(b.net.transfers.fetchRange(a.net.peerId, d, 0, data.length))
    ac.abort()
    await assert.rejects(first)
    assert.equal(sha256(await within(second, 20_000, 'fetchRange')), d)
    assert.equal(await counterValue(b.metrics, 'peerBytesIn', { peer: a.net.peerId, path: 'data' }), data.length)
    assert.equal(await counterValue(b.metrics, 'peerBytesIn', { peer: a.net.peerId, path: 'libp2p' }), 0, 'nothing over libp2p')
  })

  it('many transfers at once through a tight piece budget, with a slow consumer: every byte exact, checked or not', async () => {
    // 1 MiB for all transfers together: nearly every piece waits for room, and bytes that keep
    // arriving meanwhile are set aside and moved in order (src/p2p/data/fetch-worker.ts).
    const data = random(13 * MiB + 4321)
    // (A serves all six at once: no BUSY answers in this test.)
    const { a, b, d } = await pair(data, { maxUploadsPerPeer: 8, maxUploadsTotal: 8 }, { pieceBudgetBytes: MiB })
    const hashes = await a.local.pieceHashes(d)
    assert.ok(hashes !== undefined)
    const check = { size: data.length, hashes }
    const slowly = async (it: AsyncIterable<Uint8Array>): Promise<Buffer> => {
      const parts: Buffer[] = []
      for await (const c of it) {
        parts.push(Buffer.from(c)) // a copy: the chunk is lent only until the next one
        await new Promise(resolve => setTimeout(resolve, 5))
      }
      return Buffer.concat(parts)
    }
    const ranges: Array<[number, number, boolean]> = [
      [0, data.length, true], [0, data.length, false], [MiB + 17, 9 * MiB + 3, false],
      [4 * MiB, 12 * MiB, true], [5 * MiB + 1, data.length, false], [0, 3 * MiB, true]
    ]
    const got = await within(Promise.all(ranges.map(async ([s, e, checked]) =>
      await slowly(b.net.transfers.fetchRange(a.net.peerId, d, s, e, undefined, checked ? check : undefined)))), 60_000, 'fetchRange')
    for (const [i, [s, e, checked]] of ranges.entries()) assert.equal(sha256(got[i]!), sha256(data.subarray(s, e)), `range ${s}-${e}${checked ? ' (checked)' : ''}`)
  })

  it('when the libp2p port + 1 is taken, the data plane listens on a free port (peers ask for it); a configured data port that is taken fails the start', async () => {
    const p2pPort = await freePort()
    const taken = p2pPort + 1
    // Taken by us, or already by someone else: either way taken.
    const blocker = createNetServer()
    blocker.listen(taken, '127.0.0.1')
    await Promise.race([once(blocker, 'listening'), once(blocker, 'error')])
    try {
      const data = random(2 * MiB)
      const { a, b, d } = await pair(data, { listen: [`/ip4/127.0.0.1/tcp/${p2pPort}`] })
      assert.ok(a.net.dataPort !== undefined && a.net.dataPort !== taken, `data port ${String(a.net.dataPort)}`)
      assert.equal(sha256(await within(collect(b.net.transfers.fetchRange(a.net.peerId, d, 0, data.length)), 20_000, 'fetchRange')), d)
      assert.equal(await counterValue(b.metrics, 'peerBytesIn', { peer: a.net.peerId, path: 'data' }), data.length)
      await assert.rejects(node({ dataPort: taken }), { code: 'EADDRINUSE' })
    } finally { blocker.close() }
  })

  it('a peer without a data plane is served over the libp2p range protocol', async () => {
    const data = random(3 * MiB)
    const { a, b, d } = await pair(data, { dataPlane: false })
    assert.equal(a.net.dataPort, undefined)
    assert.equal(sha256(await within(collect(b.net.transfers.fetchRange(a.net.peerId, d, 0, data.length)), 20_000, 'fetchRange')), d)
    assert.equal(await counterValue(b.metrics, 'peerBytesIn', { peer: a.net.peerId, path: 'libp2p' }), data.length)
  })
})
