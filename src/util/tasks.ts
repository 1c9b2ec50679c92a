// Background work a service starts (stream handlers, dial loops) and waits for in stop(): a
// service is only stopped once nothing it started still runs.

import { errorMessage } from '../errors.js'
import type { Logger } from '../log.js'

export class Tasks {
  private readonly running = new Set<Promise<void>>()

  /** Failures are expected here (peers hang up); they are logged at debug level. */
  constructor (private readonly logger?: Logger) {}

  track (p: Promise<unknown>): void {
    const q = p.then(() => {}, err => { this.logger?.debug({ err: errorMessage(err) }, 'background task failed') })
    this.running.add(q)
    void q.finally(() => this.running.delete(q))
  }

  /** Wait for the tasks running now. */
  async settle (): Promise<void> {
    await Promise.allSettled([...this.running])
  }
}
