// The data worker's budget of piece buffers (src/p2p/data/piece-budget.ts).

import { test } from 'node:test'
import assert from 'node:assert/strict'
import { PieceBudget } from '../../../../src/p2p/data/piece-budget.js'
import { ChunkPool } from '../../../../src/util/chunk-pool.js'

const MiB = 1024 * 1024

test('buffers are handed out while they fit; one that does not waits until another comes back, and reuses it', async () => {
  const pool = new ChunkPool(2, 10_000, 4 * MiB)
  const b = new PieceBudget(8 * MiB, 5000, (len) => len === pool.bytes ? pool : undefined)
  const first = b.take(4 * MiB)!
  const second = b.take(4 * MiB)!
  assert.ok(first !== undefined && second !== undefined)
  assert.equal(b.take(4 * MiB), undefined, 'a third does not fit')
  assert.equal(b.outstanding, 8 * MiB)
  let woke = false
  b.wait(() => { woke = true })
  b.back(first.buffer)
  assert.equal(woke, true, 'woken as soon as one came back')
  const third = b.take(4 * MiB)!
  assert.equal(third.buffer, first.buffer, 'the buffer that came back is the one handed out again')
  assert.equal(b.outstanding, 8 * MiB)
})

test('a wait ends after maxWaitMs even when nothing comes back (held pieces must not stop everyone)', async () => {
  const b = new PieceBudget(4 * MiB, 100, () => undefined)
  b.take(4 * MiB)
  const t0 = Date.now()
  await new Promise<void>(resolve => { b.wait(resolve) })
  assert.ok(Date.now() - t0 >= 90)
  assert.ok(b.take(4 * MiB, true) !== undefined, 'then the buffer is taken beyond the budget')
  assert.equal(b.outstanding, 8 * MiB)
})

test('a cancelled wait is not woken; a buffer bigger than the whole budget fits when none is out', () => {
  const b = new PieceBudget(2 * MiB, 5000, () => undefined)
  assert.ok(b.room(4 * MiB))
  const big = b.take(4 * MiB)!
  let woke = false
  const cancel = b.wait(() => { woke = true })
  cancel()
  b.back(big.buffer)
  assert.equal(woke, false)
  assert.equal(b.outstanding, 0)
})
