// The runners of a fetch session's transfers: open a source (upstream or a peer), write what
// arrives at its offset until the claim is done, and check peer pieces against the piece hashes
// of a verified holder. The session decides what to start and what a failure means; these only
// move bytes.
import { pipe } from 'it-pipe';
import { BlobUnknownError, NoProgressError } from '../errors.js';
import { BadPieceError } from '../p2p/protocol.js';
import { WriteBehind } from './write-behind.js';
/**
 * Write what `open()` yields at the claim's offsets until the claim ends (it may be shortened
 * while running): source → cut at the claim's end → readers (`onChunk`, from memory) and the
 * write-behind into the blob's file. `onWritten` sees every byte that reached the file.
 */
export async function pump(entry, claim, open, onChunk, onWritten, onReceived) {
    const writer = new WriteBehind(entry, claim.pos, (n) => { claim.pos += n; onWritten(n); });
    try {
        await pipe(await open(), untilClaimEnd(claim), async (src) => {
            let offset = claim.pos;
            for await (const chunk of src) {
                onChunk(offset, chunk);
                offset += chunk.length;
                await writer.push(chunk);
            }
            // The source is done: the next transfer may start while these bytes reach the disk.
            claim.received = true;
            onReceived?.();
            await writer.flush();
        });
    }
    catch (err) {
        await writer.flush().catch(() => { });
        throw err;
    }
}
/** Pass chunks on up to the claim's end; stopping there also stops the source. */
function untilClaimEnd(claim) {
    return async function* (src) {
        let received = claim.pos;
        for await (const chunk of src) {
            const take = Math.min(chunk.length, claim.end - received);
            if (take > 0) {
                yield take === chunk.length ? chunk : chunk.subarray(0, take);
                received += take;
            }
            if (received >= claim.end)
                return;
        }
    };
}
/** An upstream range request for [start, end) of the blob, in the registry/repository `ctx`. */
export function upstreamOpener(upstream, ctx, digest, size, start, end, signal) {
    return async () => {
        const res = await upstream.fetchBlob(ctx.registry, ctx.repository, digest, { start, end: end >= size ? undefined : end, signal });
        if (res.size !== size)
            throw new BlobUnknownError(`upstream size ${res.size} of ${digest} differs from the known size ${size}`);
        return res.body;
    };
}
/**
 * Bytes [start, end) from a peer. With piece hashes, the transport fetches the whole pieces and
 * checks each before any of it comes through; a peer that sends a bad piece is banned and the
 * piece goes elsewhere.
 */
export function peerOpener(d, peerId, start, end, hashes, abort) {
    const check = hashes !== undefined ? { size: d.size, hashes } : undefined;
    return async () => banBadPieces(d, peerId, watchdog(d.peers.transfers.fetchRange(peerId, d.digest, start, end, abort.signal, check), abort, d.stallMs));
}
async function* banBadPieces(d, peerId, src) {
    try {
        yield* src;
    }
    catch (err) {
        if (err instanceof BadPieceError) {
            d.metrics.verificationFailures.inc({ source: 'peer' });
            d.metrics.peerFailures.inc({ peer: peerId, reason: 'bad-piece' });
            d.peers.health.ban(peerId, d.banMs, `sent a piece of ${d.digest} that failed its sha256`);
            d.logger.warn({ digest: d.digest, peer: peerId, piece: err.piece }, 'peer sent a bad piece: banned, piece fetched elsewhere');
        }
        throw err;
    }
}
/** Abort a transfer that delivers nothing for `stallMs`; its error is then NoProgressError. */
async function* watchdog(src, abort, stallMs) {
    let timer;
    let stalled = false;
    const arm = () => {
        if (timer !== undefined)
            clearTimeout(timer);
        timer = setTimeout(() => { stalled = true; abort.abort(new NoProgressError('peer made no progress')); }, stallMs);
    };
    arm();
    try {
        for await (const chunk of src) {
            arm();
            yield chunk;
        }
    }
    catch (err) {
        if (stalled)
            throw new NoProgressError(`peer made no progress for ${stallMs} ms`);
        throw err;
    }
    finally {
        if (timer !== undefined)
            clearTimeout(timer);
    }
}
//# sourceMappingURL=transfers.js.map