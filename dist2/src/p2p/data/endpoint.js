// /layerd/data/1.0.0: where is your data plane? A peer answers with the TCP port of its data
// server; the host is the address we reached it at over libp2p. Asked once per peer and kept
// until it disconnects.
import { PeerRangeError } from '../../errors.js';
import { encodeFrame } from '../frames.js';
import { MAX_CONTROL_FRAME_BYTES, ProtocolService } from '../protocol.js';
import { isSize } from '../validate.js';
export const DATA_PROTOCOL = '/layerd/data/1.0.0';
export class EndpointService extends ProtocolService {
    init;
    constructor(components, init) {
        super(components, DATA_PROTOCOL, 8, init);
        this.init = init;
    }
    parseRequest() { return {}; }
    async answer(stream) {
        const port = this.init.port();
        if (port === undefined) {
            await this.refuse(stream, 'INTERNAL', 'no data plane');
            return;
        }
        stream.send(encodeFrame({ ok: true, port }, MAX_CONTROL_FRAME_BYTES));
        await stream.close({ signal: AbortSignal.timeout(this.timeoutMs) }).catch(() => { stream.abort(new Error('close failed')); });
    }
    /** The data endpoint of a connected peer (throws PeerRangeError / PeerProtocolError). */
    async endpointOf(peerId, signal) {
        const conn = this.components.connections.connectionTo(peerId);
        if (conn === undefined)
            throw new PeerRangeError(`peer ${peerId} is not connected`);
        const parts = conn.remoteAddr.getComponents();
        const host = parts.find(c => c.name === 'ip4' || c.name === 'ip6')?.value;
        if (host === undefined)
            throw new PeerRangeError(`peer ${peerId} has no IP address`);
        const sig = signal !== undefined ? AbortSignal.any([signal, this.stopSignal]) : this.stopSignal;
        try {
            const r = await this.open(peerId, {}, sig);
            r.reader.detach();
            r.stream.abort(new Error('done'));
            const port = r.header.port;
            if (!isSize(port) || port === 0 || port > 65535)
                throw new PeerRangeError(`peer ${peerId} gave an invalid data port`);
            return { host, port };
        }
        catch (err) {
            throw this.clientError(peerId, err, signal);
        }
    }
}
//# sourceMappingURL=endpoint.js.map