// The local admin API under /_layerd/: JSON for the CLI (`layerd gc`, `peers`, `status`, `pull`)
// and the status page. Loopback clients only; each route declares its method, another method
// answers 405. A route named `name/` answers `/_layerd/name/<rest>` and is given `<rest>`.
import { InvalidRequestError } from '../errors.js';
import { sendJson } from './http.js';
const LOOPBACK = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1']);
/** Admin endpoints change state (gc) and show what this machine pulls: only for this machine. */
export function fromLoopback(req) {
    return LOOPBACK.has(req.socket.remoteAddress ?? '');
}
/** Answer `/_layerd/<name>`. */
export async function serveAdmin(routes, name, req, res) {
    const slash = name.indexOf('/');
    const key = slash < 0 ? name : name.slice(0, slash + 1);
    const route = Object.hasOwn(routes, key) ? routes[key] : undefined;
    if (route === undefined) {
        sendJson(res, 404, { error: 'unknown admin endpoint' });
        return;
    }
    if (!fromLoopback(req)) {
        sendJson(res, 403, { error: 'admin endpoints answer loopback clients only' });
        return;
    }
    const method = req.method === 'HEAD' ? 'GET' : req.method;
    if (method !== route.method) {
        sendJson(res, 405, { error: `use ${route.method}` }, { Allow: route.method });
        return;
    }
    sendJson(res, 200, await route.handle(req, slash < 0 ? '' : name.slice(slash + 1)));
}
/** The JSON object of a request body (at most `maxBytes`); InvalidRequestError otherwise. */
export async function readJsonBody(req, maxBytes = 64 * 1024) {
    const chunks = [];
    let total = 0;
    for await (const c of req) {
        total += c.length;
        if (total > maxBytes)
            throw new InvalidRequestError(`request body over ${maxBytes} bytes`);
        chunks.push(c);
    }
    let j;
    try {
        j = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    }
    catch {
        throw new InvalidRequestError('request body is not JSON');
    }
    if (j === null || typeof j !== 'object' || Array.isArray(j))
        throw new InvalidRequestError('request body must be a JSON object');
    return j;
}
//# sourceMappingURL=admin.js.map