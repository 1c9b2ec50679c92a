// /layerd/tags/1.0.0: which digest do you know for registry/repository:tag? Asked only while the
// upstream registry cannot be reached, so that an office keeps pulling by tag from what its
// agents hold. The answer names the digest the agent last resolved upstream and when; the asking
// agent takes the newest, and fetches the manifest by digest (verified) from whoever has it.
import { errorMessage } from '../errors.js';
import { isRegistryHost, isSha256Digest, parseName } from '../oci/reference.js';
import { encodeFrame } from './frames.js';
import { MAX_CONTROL_FRAME_BYTES, ProtocolService } from './protocol.js';
import { FrameError } from './frames.js';
import { isSize } from './validate.js';
export const TAGS_PROTOCOL = '/layerd/tags/1.0.0';
const TAG = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;
export class TagsService extends ProtocolService {
    init;
    constructor(components, init) {
        super(components, TAGS_PROTOCOL, 32, init);
        this.init = init;
    }
    parseRequest(msg) {
        const { registry, repository, tag } = msg;
        if (typeof registry !== 'string' || !isRegistryHost(registry))
            throw new FrameError('registry is not a host name', 'frame-malformed');
        if (typeof repository !== 'string')
            throw new FrameError('repository is not a string', 'frame-malformed');
        try {
            parseName(repository);
        }
        catch {
            throw new FrameError('repository is not a repository name', 'frame-malformed');
        }
        if (typeof tag !== 'string' || !TAG.test(tag))
            throw new FrameError('tag is not a tag', 'frame-malformed');
        return { registry, repository, tag };
    }
    async answer(stream, _peer, q) {
        const k = await this.init.known(q).catch(() => undefined);
        if (k === undefined) {
            await this.refuse(stream, 'BLOB_UNKNOWN', 'tag not known here');
            return;
        }
        stream.send(encodeFrame({ ok: true, digest: k.digest, mediaType: k.mediaType, updatedAt: k.updatedAt }, MAX_CONTROL_FRAME_BYTES));
        await stream.close({ signal: AbortSignal.timeout(this.timeoutMs) }).catch(() => { stream.abort(new Error('close failed')); });
    }
    /** Ask `peers` at once; the newest answer within `timeoutMs`, or undefined. */
    async resolve(peers, q, timeoutMs) {
        const signal = AbortSignal.timeout(timeoutMs);
        const answers = await Promise.all(peers.map(async (peer) => {
            try {
                const r = await this.open(peer, q, signal);
                r.reader.detach();
                r.stream.abort(new Error('done'));
                const { digest, mediaType, updatedAt } = r.header;
                if (!isSha256Digest(digest) || typeof mediaType !== 'string' || !isSize(updatedAt))
                    return undefined;
                return { digest, mediaType: mediaType.slice(0, 200), updatedAt, peerId: peer };
            }
            catch (err) {
                this.log.debug({ peer, err: errorMessage(err) }, 'no tag from peer');
                return undefined;
            }
        }));
        let best;
        for (const a of answers)
            if (a !== undefined && (best === undefined || a.updatedAt > best.updatedAt))
                best = a;
        return best;
    }
}
//# sourceMappingURL=tags.js.map