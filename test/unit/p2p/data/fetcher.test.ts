// The main-thread side of the data client (src/p2p/data/fetcher.ts) against a stand-in for its
// thread: a MessageChannel whose far end the test answers, as fetch-worker.ts would.

import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { MessageChannel, type MessagePort } from 'node:worker_threads'
import { createMetrics } from '../../../../src/metrics/metrics.js'
import { Fetcher } from '../../../../src/p2p/data/fetcher.js'
import type { FromWorker, ToWorker } from '../../../../src/p2p/data/fetch-worker.js'
import type { DataThread } from '../../../../src/thread/data-thread.js'

const DIGEST = 'sha256:' + 'ab'.repeat(32)

/** A thread stand-in: counts opens, hands the test the worker's end of the channel. */
function fakeThread (): { thread: DataThread, worker: MessagePort, opens: () => number, heard: ToWorker[] } {
  const ch = new MessageChannel()
  let opens = 0
  const heard: ToWorker[] = []
  ch.port2.on('message', (m: ToWorker) => {
    heard.push(m)
    if (m.type === 'close') ch.port2.postMessage({ type: 'closed' } satisfies FromWorker)
  })
  ch.port2.unref()
  const thread = { open: () => { opens++; return ch.port1 }, release: async () => {} } as unknown as DataThread
  return { thread, worker: ch.port2, opens: () => opens, heard }
}

async function until (what: string, cond: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !cond(); i++) await new Promise(resolve => setTimeout(resolve, 5))
  assert.ok(cond(), what)
}

describe('data client (main side)', () => {
  it('a piece that arrives after its fetch ended goes back to the thread (else the piece budget counts it as out for good)', async () => {
    const f = fakeThread()
    const fetcher = new Fetcher(createMetrics({ defaultMetrics: false }), { self: 'me', connectionsPerPeer: 1, timeoutMs: 1000, thread: f.thread })
    const ac = new AbortController()
    const it = fetcher.fetch('peer', { host: '127.0.0.1', port: 1 }, DIGEST, 0, 8 << 20, ac.signal)[Symbol.asyncIterator]()
    const first = it.next()
    await until('the fetch reached the thread', () => f.heard.some(m => m.type === 'fetch'))
    const id = (f.heard.find(m => m.type === 'fetch') as { id: number }).id
    ac.abort()
    await assert.rejects(first, /aborted/)
    // The thread had sent a piece before it heard of the cancel.
    const piece = new ArrayBuffer(4 << 20)
    f.worker.postMessage({ type: 'chunk', id, offset: 0, data: piece } satisfies FromWorker, [piece])
    await until('the piece came back as recycle', () => f.heard.some(m => m.type === 'recycle'))
    const back = f.heard.find(m => m.type === 'recycle') as { buf: ArrayBuffer }
    assert.equal(back.buf.byteLength, 4 << 20)
    await fetcher.close()
  })

  it('a fetch cancelled after the data client closed does not start the thread again', async () => {
    const f = fakeThread()
    const fetcher = new Fetcher(createMetrics({ defaultMetrics: false }), { self: 'me', connectionsPerPeer: 1, timeoutMs: 1000, thread: f.thread })
    const ac = new AbortController()
    const pending = assert.rejects(fetcher.fetch('peer', { host: '127.0.0.1', port: 1 }, DIGEST, 0, 1024, ac.signal)[Symbol.asyncIterator]().next())
    await until('the fetch reached the thread', () => f.heard.some(m => m.type === 'fetch'))
    const closing = fetcher.close()
    ac.abort() // while the close waits for the thread: once threw "fetch is open already" from the abort listener
    await closing
    await pending
    ac.abort()
    assert.equal(f.opens(), 1)
    assert.equal(f.heard.filter(m => m.type === 'init').length, 1, 'no second init')
  })
})
