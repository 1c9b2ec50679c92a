// Manifests from upstream: GET reads the whole (size-limited) body and checks its sha256 against a
// digest reference and against Docker-Content-Digest, so a wrong manifest never reaches a client;
// HEAD trusts Docker-Content-Digest and falls back to a GET when a registry does not send it.
import { createHash } from 'node:crypto';
import { AbortedError, DigestMismatchError, NoProgressError, UpstreamProtocolError, errorMessage, isLayerdError } from '../errors.js';
import { DEFAULT_MANIFEST_ACCEPT, manifestMediaType } from '../oci/media-types.js';
import { isDigestReference, isSha256Digest } from '../oci/reference.js';
import { pullScope } from './auth.js';
import { contentLength, discard, drain, header, nextWithin } from './http.js';
import { exchange, failStatus } from './request.js';
import { RetryableError, withRetry } from './retry.js';
/** GET a manifest by tag or (sha256) digest; the name and reference are already validated. */
export async function getManifest(deps, reg, repository, reference, accept, signal) {
    const name = reg.def.name;
    const what = `manifest ${repository}:${reference}`;
    return await withRetry(deps, reg, `GET ${what}`, signal, { failures: 0 }, async () => {
        const { res } = await exchange(deps, reg, { method: 'GET', path: `/v2/${repository}/manifests/${reference}`, headers: { accept: acceptHeader(accept) }, scope: pullScope(repository), signal });
        if (res.statusCode !== 200)
            return await failStatus(reg, res, 'manifest', `${repository}:${reference}`);
        const len = contentLength(res.headers);
        if (len !== undefined && len > deps.maxManifestBytes) {
            discard(res.body);
            throw new UpstreamProtocolError(`${name}: ${what} is ${len} bytes, over the ${deps.maxManifestBytes} byte limit`);
        }
        const body = await readAll(deps, reg, res.body, what, signal);
        const digest = 'sha256:' + createHash('sha256').update(body).digest('hex');
        if (isDigestReference(reference) && digest !== reference) {
            throw new DigestMismatchError(`${name}: manifest ${repository}@${reference} has digest ${digest}`, reference, digest);
        }
        const dcd = header(res.headers, 'docker-content-digest');
        if (dcd !== undefined && dcd.startsWith('sha256:') && dcd !== digest) {
            throw new DigestMismatchError(`${name}: ${what} has digest ${digest} but Docker-Content-Digest says ${dcd}`, dcd, digest);
        }
        return { body, mediaType: manifestMediaType(header(res.headers, 'content-type'), body), digest };
    });
}
/** HEAD a manifest; without a usable Docker-Content-Digest, GET it and compute the digest. */
export async function headManifest(deps, reg, repository, reference, accept, signal) {
    const head = await withRetry(deps, reg, `HEAD manifest ${repository}:${reference}`, signal, { failures: 0 }, async () => {
        const { res } = await exchange(deps, reg, { method: 'HEAD', path: `/v2/${repository}/manifests/${reference}`, headers: { accept: acceptHeader(accept) }, scope: pullScope(repository), signal });
        if (res.statusCode !== 200)
            return await failStatus(reg, res, 'manifest', `${repository}:${reference}`);
        await drain(res.body);
        const dcd = header(res.headers, 'docker-content-digest');
        const size = contentLength(res.headers);
        const mediaType = header(res.headers, 'content-type')?.split(';')[0].trim();
        if (!isSha256Digest(dcd) || size === undefined || mediaType === undefined || mediaType === '')
            return undefined;
        if (isDigestReference(reference) && dcd !== reference) {
            throw new DigestMismatchError(`${reg.def.name}: manifest ${repository}@${reference} reported as ${dcd}`, reference, dcd);
        }
        return { mediaType, digest: dcd, size };
    });
    if (head !== undefined)
        return head;
    deps.log.debug({ registry: reg.def.name, repository, reference }, 'manifest HEAD without Docker-Content-Digest, falling back to GET');
    const m = await getManifest(deps, reg, repository, reference, accept, signal);
    return { mediaType: m.mediaType, digest: m.digest, size: m.body.length };
}
/** The client's Accept list, deduplicated (entries may be comma lists); ours when it sent none. */
function acceptHeader(accept) {
    const list = [...new Set(accept.flatMap(a => a.split(',')).map(a => a.trim()).filter(a => a !== ''))];
    return (list.length > 0 ? list : DEFAULT_MANIFEST_ACCEPT).join(', ');
}
/** Read a whole (small) body with the size limit and the no-progress timer; failures are retryable. */
async function readAll(deps, reg, body, what, signal) {
    const name = reg.def.name;
    const limit = deps.maxManifestBytes;
    const chunks = [];
    let total = 0;
    const it = body[Symbol.asyncIterator]();
    const stalled = () => new NoProgressError(`${name}: ${what}: no data for ${deps.noProgressTimeoutMs} ms`);
    try {
        for (;;) {
            const r = await nextWithin(it, body, deps.noProgressTimeoutMs, stalled);
            if (r.done === true)
                break;
            total += r.value.length;
            deps.metrics.upstreamBytes.inc({ registry: name }, r.value.length);
            if (total > limit)
                throw new UpstreamProtocolError(`${name}: ${what} is over the ${limit} byte limit`);
            chunks.push(r.value);
        }
    }
    catch (err) {
        discard(body);
        if (signal?.aborted === true || deps.closed())
            throw new AbortedError(`${what} from ${name} aborted`);
        if (isLayerdError(err) && !(err instanceof NoProgressError))
            throw err;
        throw new RetryableError(`reading ${what} failed: ${errorMessage(err)}`, false, undefined, { cause: err });
    }
    return Buffer.concat(chunks, total);
}
//# sourceMappingURL=manifests.js.map