import { CircuitOpenError, RangeInvalidError, isLayerdError } from '../errors.js';
// Our stable codes → HTTP status and the closest code the distribution spec defines. Our own
// code travels in `detail.code` so a user can look it up.
const MAP = {
    DIGEST_INVALID: { status: 400, code: 'DIGEST_INVALID' },
    NAME_INVALID: { status: 400, code: 'NAME_INVALID' },
    INVALID_REQUEST: { status: 400, code: 'UNKNOWN' },
    JOB_UNKNOWN: { status: 404, code: 'UNKNOWN' },
    RANGE_INVALID: { status: 416, code: 'RANGE_INVALID' },
    BLOB_UNKNOWN: { status: 404, code: 'BLOB_UNKNOWN' },
    MANIFEST_UNKNOWN: { status: 404, code: 'MANIFEST_UNKNOWN' },
    NAME_UNKNOWN: { status: 404, code: 'NAME_UNKNOWN' },
    REGISTRY_UNKNOWN: { status: 404, code: 'NAME_UNKNOWN' },
    UNAUTHORIZED: { status: 401, code: 'UNAUTHORIZED' },
    DENIED: { status: 403, code: 'DENIED' },
    TOOMANYREQUESTS: { status: 429, code: 'TOOMANYREQUESTS' },
    UNSUPPORTED: { status: 405, code: 'UNSUPPORTED' },
    UPSTREAM_UNAVAILABLE: { status: 503, code: 'UNAVAILABLE' },
    UPSTREAM_CIRCUIT_OPEN: { status: 503, code: 'UNAVAILABLE' },
    NO_PROGRESS: { status: 504, code: 'UNAVAILABLE' },
    UPSTREAM_PROTOCOL: { status: 502, code: 'UNKNOWN' },
    UPSTREAM_TLS: { status: 502, code: 'UNKNOWN' },
    DIGEST_MISMATCH: { status: 502, code: 'UNKNOWN' },
    STORE_FULL: { status: 507, code: 'UNKNOWN' },
    STORE_IO: { status: 500, code: 'UNKNOWN' },
    ABORTED: { status: 503, code: 'UNAVAILABLE' }
};
export function errorStatus(err) {
    const code = isLayerdError(err) ? err.code : 'INTERNAL';
    const m = MAP[code] ?? { status: 500, code: 'UNKNOWN' };
    return { ...m, detailCode: code };
}
/** Send an OCI error body. Only ever called before the response headers went out. */
export function sendError(res, err, head = false) {
    const { status, code, detailCode } = errorStatus(err);
    const message = isLayerdError(err) ? err.message : 'internal error';
    const headers = { 'Content-Type': 'application/json', 'Docker-Distribution-API-Version': 'registry/2.0' };
    if (err instanceof RangeInvalidError && err.size !== undefined)
        headers['Content-Range'] = `bytes */${err.size}`;
    if (err instanceof CircuitOpenError)
        headers['Retry-After'] = Math.max(1, Math.ceil(err.retryAfterMs / 1000));
    if (status === 401)
        headers['WWW-Authenticate'] = 'Basic realm="layerd (upstream refused credentials)"';
    const body = JSON.stringify({ errors: [{ code, message, detail: { code: detailCode } }] });
    headers['Content-Length'] = Buffer.byteLength(body);
    res.writeHead(status, headers);
    res.end(head ? undefined : body);
    return status;
}
//# sourceMappingURL=oci-errors.js.map