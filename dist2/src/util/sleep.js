import { AbortedError } from '../errors.js';
/**
 * Wait `ms`, or reject as soon as `signal` aborts (with `aborted()`, or an AbortedError). The one
 * abortable sleep of layerd: backoffs, redials and rate limits all use it.
 */
export async function sleep(ms, signal, aborted = () => new AbortedError('aborted')) {
    if (signal?.aborted === true)
        throw aborted();
    if (ms <= 0)
        return;
    await new Promise((resolve, reject) => {
        const onAbort = () => { clearTimeout(timer); reject(aborted()); };
        const timer = setTimeout(() => { signal?.removeEventListener('abort', onAbort); resolve(); }, ms);
        signal?.addEventListener('abort', onAbort, { once: true });
    });
}
//# sourceMappingURL=sleep.js.map