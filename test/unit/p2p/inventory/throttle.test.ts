import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { ChangeThrottler } from '../../../../src/p2p/inventory/throttle.js'
import type { InventoryChange, InventoryEntry } from '../../../../src/p2p/types.js'
import { waitFor } from '../fixtures.js'

const D1 = 'sha256:' + '1'.repeat(64)
const D2 = 'sha256:' + '2'.repeat(64)

function update (digest: string, end: number): InventoryChange {
  const entry: InventoryEntry = { digest, size: 100, complete: end === 100, ranges: [[0, end]], fetching: end < 100, claimed: [] }
  return { type: 'update', entry }
}

const ends = (out: InventoryChange[]): Array<string | number> => out.map(c => c.type === 'remove' ? 'remove' : c.entry.ranges[0][1])

describe('ChangeThrottler', () => {
  it('sends the first update at once and only the newest of a burst after the interval', async () => {
    const out: InventoryChange[] = []
    const t = new ChangeThrottler(80, c => out.push(c))
    try {
      t.push(update(D1, 10))
      assert.deepEqual(ends(out), [10])
      t.push(update(D1, 20))
      t.push(update(D1, 30))
      t.push(update(D2, 5)) // another digest is not held back by D1
      assert.deepEqual(ends(out), [10, 5])
      await waitFor(() => out.length === 3, 2000, 'the held-back update')
      assert.deepEqual(ends(out), [10, 5, 30])
      await new Promise(resolve => setTimeout(resolve, 200))
      assert.equal(out.length, 3, 'nothing else is sent')
    } finally { t.stop() }
  })

  it('what neighbours coordinate by goes out at once: a new claim, a claim done; a claim that only progressed waits', async () => {
    const out: InventoryChange[] = []
    const t = new ChangeThrottler(10_000, c => out.push(c))
    const claimed = (end: number, claims: Array<[number, number]>): InventoryChange => {
      const c = update(D1, end)
      if (c.type === 'update') c.entry.claimed = claims
      return c
    }
    try {
      t.push(claimed(10, []))
      t.push(claimed(10, [[10, 50]])) // a new claim
      t.push(claimed(20, [[20, 50]])) // the same claim, 10 bytes further
      t.push(claimed(50, [])) // the claim is done
      assert.deepEqual(out.map(c => c.type === 'update' ? c.entry.claimed : []), [[], [[10, 50]], []])
    } finally { t.stop() }
  })

  it('with pieces, progress inside a piece waits for the slow window; a piece done goes out after the usual one', async () => {
    const out: InventoryChange[] = []
    // Pieces of 10 bytes of a 100-byte blob; usual window 40 ms, inside-a-piece window 400 ms.
    const t = new ChangeThrottler(40, c => out.push(c), { pieceSize: 10, slowMs: 400 })
    try {
      t.push(update(D1, 12))
      assert.deepEqual(ends(out), [12])
      t.push(update(D1, 15)) // still inside piece 1
      await new Promise(resolve => setTimeout(resolve, 150))
      assert.deepEqual(ends(out), [12], 'progress inside a piece went out before the slow window')
      t.push(update(D1, 21)) // piece 1 done: the usual window, long over
      assert.deepEqual(ends(out), [12, 21])
      t.push(update(D1, 25))
      await waitFor(() => out.length === 3, 2000, 'the slow window ends')
      assert.deepEqual(ends(out), [12, 21, 25])
      // The blob's end counts as a whole piece even when it is short.
      const short = new ChangeThrottler(40, c => out.push(c), { pieceSize: 30, slowMs: 10_000 })
      try {
        const e = (end: number): InventoryChange => ({ type: 'update', entry: { digest: D2, size: 100, complete: false, ranges: [[0, end]], fetching: true, claimed: [] } })
        short.push(e(95))
        await new Promise(resolve => setTimeout(resolve, 60))
        short.push(e(99))
        short.push(e(100))
        await waitFor(() => out.length === 5, 2000, 'the short last piece')
        assert.deepEqual(ends(out).slice(3), [95, 100])
      } finally { short.stop() }
    } finally { t.stop() }
  })

  it('a remove goes out at once and cancels a pending update', async () => {
    const out: InventoryChange[] = []
    const t = new ChangeThrottler(60, c => out.push(c))
    try {
      t.push(update(D1, 10))
      t.push(update(D1, 20))
      t.push({ type: 'remove', digest: D1 })
      assert.deepEqual(ends(out), [10, 'remove'])
      await new Promise(resolve => setTimeout(resolve, 150))
      assert.deepEqual(ends(out), [10, 'remove'])
      t.push(update(D1, 30)) // after a remove the next update is a first one again
      assert.deepEqual(ends(out), [10, 'remove', 30])
    } finally { t.stop() }
  })

  it('interval 0 sends every update; stop() drops what is pending', async () => {
    const out: InventoryChange[] = []
    const t0 = new ChangeThrottler(0, c => out.push(c))
    t0.push(update(D1, 10)); t0.push(update(D1, 20))
    assert.deepEqual(ends(out), [10, 20])
    t0.stop()

    const held: InventoryChange[] = []
    const t = new ChangeThrottler(50, c => held.push(c))
    t.push(update(D1, 10)); t.push(update(D1, 20))
    t.stop()
    await new Promise(resolve => setTimeout(resolve, 120))
    assert.deepEqual(ends(held), [10])
  })
})
