// Background work a service starts (stream handlers, dial loops) and waits for in stop(): a
// service is only stopped once nothing it started still runs.
import { errorMessage } from '../errors.js';
export class Tasks {
    logger;
    running = new Set();
    /** Failures are expected here (peers hang up); they are logged at debug level. */
    constructor(logger) {
        this.logger = logger;
    }
    track(p) {
        const q = p.then(() => { }, err => { this.logger?.debug({ err: errorMessage(err) }, 'background task failed'); });
        this.running.add(q);
        void q.finally(() => this.running.delete(q));
    }
    /** Wait for the tasks running now. */
    async settle() {
        await Promise.allSettled([...this.running]);
    }
}
//# sourceMappingURL=tasks.js.map