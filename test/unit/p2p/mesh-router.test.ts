// MeshRouter over two real libp2p nodes on loopback: what one advertises the other sees as
// holders (with ranges and claims), withdrawals, disconnects and bans change it, and onChange
// tells about each.

import { afterEach, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import type { Holding } from '../../../src/routing/router.js'
import { waitFor, within } from './fixtures.js'
import { meshNode, type MeshNode } from './mesh.js'

const running: MeshNode[] = []
afterEach(async () => { await Promise.allSettled(running.splice(0).map(async n => await within(n.stop(), 10_000, 'stop'))) })

async function pair (): Promise<[MeshNode, MeshNode]> {
  const a = await meshNode()
  const b = await meshNode()
  running.push(a, b)
  await b.node.dial(a.node.getMultiaddrs()[0])
  await waitFor(() => a.connections.isConnected(b.peerId) && b.connections.isConnected(a.peerId), 5000, 'both see a layerd peer')
  return [a, b]
}

const digest = (c: string): string => 'sha256:' + c.repeat(64)

/** A advertises `d` (complete, `size` bytes); once B sees it, the changes B hears from then on. */
async function shared (a: MeshNode, b: MeshNode, d: string, size = 10): Promise<string[]> {
  a.router.advertise(holding(d, size, [[0, size]]))
  await waitFor(() => b.router.holders(d).length === 1, 5000, 'advertised')
  const changed: string[] = []
  b.router.onChange(x => changed.push(x))
  return changed
}

function holding (d: string, size: number, ranges: Array<[number, number]>, claimed: Array<[number, number]> = []): Holding {
  const complete = ranges.length === 1 && ranges[0][0] === 0 && ranges[0][1] === size
  return { digest: d, size, complete, ranges, fetching: !complete, claimed }
}

describe('MeshRouter', () => {
  it('what A advertises, before and after connecting, B sees as holders with ranges and claims', async () => {
    const a = await meshNode()
    running.push(a)
    const early = digest('a')
    a.router.advertise(holding(early, 100, [[0, 100]]))
    const b = await meshNode()
    running.push(b)
    const changed: string[] = []
    b.router.onChange(d => changed.push(d))
    await b.node.dial(a.node.getMultiaddrs()[0])

    await waitFor(() => b.router.holders(early).length === 1, 5000, 'the snapshot')
    assert.deepEqual(b.router.holders(early), [{ peerId: a.peerId, size: 100, complete: true, ranges: [[0, 100]], fetching: false, claimed: [] }])
    assert.ok(changed.includes(early))

    const late = digest('b')
    a.router.advertise(holding(late, 10_000, [[0, 4000]], [[4000, 10_000]]))
    await waitFor(() => b.router.holders(late).length === 1, 5000, 'an update')
    assert.deepEqual(b.router.holders(late)[0], { peerId: a.peerId, size: 10_000, complete: false, ranges: [[0, 4000]], fetching: true, claimed: [[4000, 10_000]] })
    assert.deepEqual(await b.router.lookup(late), b.router.holders(late))

    // the newest state of a burst wins; our own holdings are never our holders
    a.router.advertise(holding(late, 10_000, [[0, 6000]], [[6000, 10_000]]))
    a.router.advertise(holding(late, 10_000, [[0, 10_000]]))
    await waitFor(() => b.router.holders(late)[0]?.complete === true, 5000, 'the last update')
    assert.deepEqual(b.router.holders(late)[0].claimed, [])
    assert.deepEqual(a.router.holders(late), [])
    assert.equal(a.router.advertised(late)?.complete, true)
    assert.deepEqual(b.router.stats(a.peerId), { blobs: 2, completeBlobs: 2, bytes: 10_100 })
  })

  it('progress of a blob goes only to peers that fetch it; news goes to all, and a peer that starts the blob is brought up to date', async () => {
    const a = await meshNode()
    const b = await meshNode()
    const c = await meshNode()
    running.push(a, b, c)
    for (const x of [b, c]) await x.node.dial(a.node.getMultiaddrs()[0])
    await waitFor(() => a.connections.isConnected(b.peerId) && a.connections.isConnected(c.peerId) && b.connections.isConnected(a.peerId) && c.connections.isConnected(a.peerId), 5000, 'connected')
    const d = digest('e')
    const size = 100_000
    b.router.advertise(holding(d, size, [[90_000, 91_000]]))
    await waitFor(() => a.router.holders(d).some(h => h.peerId === b.peerId), 5000, 'a sees b fetching the blob')
    const rangesAt = (x: MeshNode): unknown => x.router.holders(d).find(h => h.peerId === a.peerId)?.ranges
    // A starts the blob (news: everyone hears), then progresses within the throttle window
    // (progress: only b, which fetches the blob too).
    a.router.advertise(holding(d, size, [[0, 1000]]))
    await waitFor(() => rangesAt(c) !== undefined && rangesAt(b) !== undefined, 5000, 'both hear that a started')
    for (let i = 2; i <= 6; i++) { a.router.advertise(holding(d, size, [[0, i * 1000]])); await new Promise(resolve => setTimeout(resolve, 30)) }
    await waitFor(() => JSON.stringify(rangesAt(b)) === '[[0,6000]]', 5000, 'b follows a\'s progress')
    await new Promise(resolve => setTimeout(resolve, 300))
    assert.deepEqual(rangesAt(c), [[0, 1000]], 'c, which does not fetch the blob, was sent no progress')
    // c starts the blob: a brings it up to date at once.
    c.router.advertise(holding(d, size, [[50_000, 51_000]]))
    await waitFor(() => JSON.stringify(rangesAt(c)) === '[[0,6000]]', 5000, 'c caught up once it fetches the blob')
    // Completion is news: a bystander hears it too.
    b.router.withdraw(d)
    c.router.withdraw(d)
    a.router.advertise(holding(d, size, [[0, size]]))
    await waitFor(() => c.router.holders(d).find(h => h.peerId === a.peerId)?.complete === true, 5000, 'c hears a completed')
  })

  it('withdraw removes the holding on the other side; a malformed holding is not advertised', async () => {
    const [a, b] = await pair()
    const d = digest('c')
    const changed = await shared(a, b, d)
    a.router.withdraw(d)
    await waitFor(() => b.router.holders(d).length === 0, 5000, 'withdrawn')
    assert.ok(changed.includes(d))
    assert.equal(a.router.advertised(d), undefined)

    const bad = digest('d')
    a.router.advertise({ digest: bad, size: 10, complete: false, ranges: [[5, 20]], fetching: true }) // past the end
    assert.equal(a.router.advertised(bad), undefined)
    const ok = digest('e')
    a.router.advertise(holding(ok, 10, [[0, 10]]))
    await waitFor(() => b.router.holders(ok).length === 1, 5000, 'the next good holding')
    assert.deepEqual(b.router.holders(bad), [])
  })

  it('a disconnect clears the peer\'s holdings and says so', async () => {
    const [a, b] = await pair()
    const d = digest('f')
    const changed = await shared(a, b, d)
    await b.node.hangUp(a.node.peerId)
    await waitFor(() => b.router.holders(d).length === 0 && !b.connections.isConnected(a.peerId), 5000, 'gone')
    assert.ok(changed.includes(d))
    assert.equal(b.router.stats(a.peerId).blobs, 0)
  })

  it('a ban hides the peer\'s holdings until it ends; both are change events', async () => {
    const [a, b] = await pair()
    const d = digest('1')
    const changed = await shared(a, b, d)
    b.health.ban(a.peerId, 300, 'test')
    assert.deepEqual(b.router.holders(d), [])
    assert.deepEqual(await b.router.lookup(d), [])
    assert.deepEqual(changed, [d])
    // holders() goes by the clock; the event follows from the expiry timer a few ms later
    await waitFor(() => changed.length === 2, 3000, 'the ban to end')
    assert.deepEqual(changed, [d, d])
    assert.equal(b.router.holders(d).length, 1)
    assert.equal(b.connections.isConnected(a.peerId), true, 'a ban does not hang up')
  })

  it('lookup honours an aborted signal', async () => {
    const a = await meshNode()
    running.push(a)
    const ac = new AbortController()
    ac.abort()
    await assert.rejects(a.router.lookup(digest('2'), { signal: ac.signal }))
  })
})
