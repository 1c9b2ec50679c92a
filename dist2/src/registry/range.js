import parseRangeHeader from 'range-parser';
import { RangeInvalidError } from '../errors.js';
const MAX_RANGE_HEADER = 1024;
/**
 * Interpret a Range header against a blob of `size` bytes: the [start, end) asked for, or undefined when the whole body
 * should be sent (no header, a unit other than bytes, or several ranges: RFC 9110 lets a server
 * ignore those). Throws RangeInvalidError for a malformed or unsatisfiable bytes range.
 */
export function parseRange(header, size) {
    if (header === undefined || header === '')
        return undefined;
    if (header.length > MAX_RANGE_HEADER)
        throw new RangeInvalidError('Range header is too long', size);
    if (!/^\s*bytes\s*=/i.test(header)) {
        if (/^\s*[a-z]+\s*=/i.test(header))
            return undefined; // another unit: ignore
        throw new RangeInvalidError(`malformed Range header ${JSON.stringify(header.slice(0, 64))}`, size);
    }
    // range-parser accepts a few lenient forms; insist on digits so "bytes=abc" is an error, not a full body.
    const spec = header.slice(header.indexOf('=') + 1);
    if (!spec.split(',').every(part => /^\s*(\d+-\d*|-\d+)\s*$/.test(part))) {
        throw new RangeInvalidError(`malformed Range header ${JSON.stringify(header.slice(0, 64))}`, size);
    }
    const r = parseRangeHeader(size, header.replace(/^\s*bytes\s*=/i, 'bytes='), { combine: true });
    if (r === -2)
        throw new RangeInvalidError(`malformed Range header ${JSON.stringify(header.slice(0, 64))}`, size);
    if (r === -1)
        throw new RangeInvalidError(`range ${JSON.stringify(spec.slice(0, 64))} is not satisfiable for a blob of ${size} bytes`, size);
    if (r.length !== 1)
        return undefined;
    return [r[0].start, r[0].end + 1];
}
//# sourceMappingURL=range.js.map