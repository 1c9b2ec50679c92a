// /layerd/backoff/1.0.0: a registry rate-limited me until T. When one agent gets a 429 with a
// Retry-After, it tells every connected agent, and they all hold their requests to that registry
// until then, instead of each finding out with its own 429 (which often lengthens the penalty).
// An agent passes a notice on to its own connections only when it lengthened its own pause, so
// the notice floods the connection graph (other subnets too) and every agent sends it once.
import { errorMessage } from '../errors.js';
import { isRegistryHost } from '../oci/reference.js';
import { FrameError, encodeFrame } from './frames.js';
import { MAX_CONTROL_FRAME_BYTES, ProtocolService } from './protocol.js';
import { isSize } from './validate.js';
export const BACKOFF_PROTOCOL = '/layerd/backoff/1.0.0';
/** The longest backoff we accept from a neighbour: a peer cannot silence a registry for long. */
const MAX_BACKOFF_MS = 10 * 60_000;
export class BackoffService extends ProtocolService {
    init;
    constructor(components, init) {
        super(components, BACKOFF_PROTOCOL, 16, init);
        this.init = init;
    }
    parseRequest(msg) {
        const { registry, until } = msg;
        if (typeof registry !== 'string' || !isRegistryHost(registry))
            throw new FrameError('registry is not a host name', 'frame-malformed');
        if (!isSize(until))
            throw new FrameError('until is not a time', 'frame-malformed');
        return { registry, until: Math.min(until, Date.now() + MAX_BACKOFF_MS) };
    }
    async answer(stream, peer, n) {
        if (n.until > Date.now())
            this.init.heard(n.registry, n.until, peer);
        stream.send(encodeFrame({ ok: true }, MAX_CONTROL_FRAME_BYTES));
        await stream.close({ signal: AbortSignal.timeout(this.timeoutMs) }).catch(() => { stream.abort(new Error('close failed')); });
    }
    /** Tell `peers` (best effort, in parallel, bounded). */
    async tell(peers, n, timeoutMs) {
        const signal = AbortSignal.timeout(timeoutMs);
        await Promise.all(peers.map(async (peer) => {
            try {
                const r = await this.open(peer, n, signal);
                r.reader.detach();
                r.stream.abort(new Error('done'));
            }
            catch (err) {
                this.log.debug({ peer, err: errorMessage(err) }, 'backoff not told');
            }
        }));
    }
}
//# sourceMappingURL=backoff.js.map