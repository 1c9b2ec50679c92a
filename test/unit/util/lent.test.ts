import assert from 'node:assert/strict'
import { test } from 'node:test'
import { hold, lend, letGo } from '../../../src/util/lent.js'
import { Readers, drain } from '../../../src/session/readers.js'
import { WriteBehind } from '../../../src/session/write-behind.js'
import type { BlobEntry } from '../../../src/store/blob-store.js'
import { SHARED_CHUNK } from '../../../src/store/shared-reads.js'
import { ChunkPool } from '../../../src/util/chunk-pool.js'
import { intoLentBuffers } from '../../../src/session/transfers.js'
import { pseudoRandom } from '../support/fixtures.js'

const ctx = { registry: 'r', repository: 'x' }

test('a lent buffer comes back once, when its last holder lets go', () => {
  const ab = new ArrayBuffer(16)
  let back = 0
  lend(ab, () => { back++ })
  const a = new Uint8Array(ab, 0, 8)
  const b = new Uint8Array(ab, 8, 8)
  hold(a); hold(b)
  letGo(new Uint8Array(ab)) // the lender
  letGo(a)
  assert.equal(back, 0, 'one holder left')
  letGo(b)
  assert.equal(back, 1)
  letGo(b) // late or unknown: no effect
  letGo(new Uint8Array(4))
  assert.equal(back, 1)
})

test('readers hold what is queued for them; a reader that goes away lets go of its queue', () => {
  const ab = new ArrayBuffer(1024)
  let back = 0
  lend(ab, () => { back++ })
  const readers = new Readers()
  const r1 = readers.add(ctx, 0, 4096)
  const r2 = readers.add(ctx, 0, 4096)
  readers.offer(0, new Uint8Array(ab), 4096, 4096)
  letGo(new Uint8Array(ab)) // the lender is done once offered
  assert.equal(back, 0)
  // r1's consumer sends its chunk and lets go; r2 leaves without sending.
  for (const c of drain(r1)) letGo(c)
  assert.equal(back, 0, 'r2 still holds it')
  readers.delete(r2)
  assert.equal(back, 1)
})

test('the write-behind holds lent bytes until they are written', async () => {
  const ab = new ArrayBuffer(64)
  let back = 0
  lend(ab, () => { back++ })
  let finishWrite!: () => void
  const entry = { write: async () => { await new Promise<void>(resolve => { finishWrite = resolve }); return 64 } } as unknown as BlobEntry
  const w = new WriteBehind(entry, 0, () => {})
  await w.push(new Uint8Array(ab))
  letGo(new Uint8Array(ab))
  assert.equal(back, 0, 'the write is still in flight')
  finishWrite()
  await w.flush()
  assert.equal(back, 1)
})

test('upstream chunks copied into lent pool buffers: exact bytes, held views intact, buffers reused once let go', async () => {
  const pool = new ChunkPool(8, 60_000)
  const data = pseudoRandom(5 * SHARED_CHUNK + 777, 3)
  // 64 KiB-ish socket chunks of uneven size.
  const chunks: Uint8Array[] = []
  for (let o = 0; o < data.length;) { const n = Math.min(data.length - o, 40_000 + (o % 50_000)); chunks.push(data.subarray(o, o + n)); o += n }
  const held: Uint8Array[] = []
  for await (const v of intoLentBuffers(chunks, pool)) { hold(v); held.push(v) }
  // Every view still held: nothing went back, and the bytes are exact.
  assert.equal(pool.size, 0)
  assert.ok(Buffer.concat(held).equals(data))
  const allocated = pool.allocated
  for (const v of held) letGo(v)
  assert.equal(pool.size, allocated, 'every buffer came back once its views were let go')
  // A second pass whose consumer lets go at once runs on the pooled buffers.
  const again: Buffer[] = []
  for await (const v of intoLentBuffers(chunks, pool)) { again.push(Buffer.from(v)) }
  assert.ok(Buffer.concat(again).equals(data))
  assert.equal(pool.allocated, allocated, 'no new buffer for the second pass')
})
