// Entry of the data thread (data-thread.ts): each side serves its own channel.
import { workerData } from 'node:worker_threads'
import { serveHashing } from '../store/hash-worker.js'
import { serveFetching } from '../p2p/data/fetch-worker.js'
import type { DataThreadData } from './data-thread.js'

const d = workerData as DataThreadData
serveHashing(d.hash)
serveFetching(d.fetch)
