import { AbortedError } from '../errors.js';
/**
 * Readers of a session waiting for "something changed": each wait settles once, on the first of
 * a wake(), one of the given promises, or its signal aborting (then with AbortedError), and
 * leaves no listener behind.
 */
export class Waiters {
    waiting = [];
    async wait(signal, also) {
        await new Promise((resolve, reject) => {
            let settled = false;
            const settle = (fn) => {
                if (settled)
                    return;
                settled = true;
                signal?.removeEventListener('abort', onAbort);
                fn();
            };
            const onAbort = () => settle(() => reject(new AbortedError('client went away')));
            if (signal?.aborted === true) {
                onAbort();
                return;
            }
            signal?.addEventListener('abort', onAbort, { once: true });
            this.waiting.push(() => settle(resolve));
            for (const p of also)
                p.then(() => settle(resolve), () => settle(resolve));
        });
    }
    wake() {
        const w = this.waiting;
        this.waiting = [];
        for (const fn of w)
            fn();
    }
}
//# sourceMappingURL=waiters.js.map