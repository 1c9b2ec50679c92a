// Garbage from a peer: malformed and oversized frames on every protocol close that stream and
// count a failure; the node keeps serving everyone else.

import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { multiaddr } from '@multiformats/multiaddr'
import { INVENTORY_PROTOCOL, RANGE_PROTOCOL, StreamReader } from '../../../src/p2p/index.js'
import { collect, counterValue, random, sha256, useNodes, waitFor, within } from './fixtures.js'

const MiB = 1024 * 1024
const { raw, pair } = useNodes()

describe('p2p robustness', () => {
  it('a malformed or oversized frame closes that stream, counts a failure, and the node keeps serving others', async () => {
    const data = random(2 * MiB)
    const { a, b: good, d } = await pair(data)
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
})
