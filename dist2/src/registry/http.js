export const API_HEADER = { 'Docker-Distribution-API-Version': 'registry/2.0' };
/** Wait until the response can take more, or is gone; leaves no listener behind. */
export async function drainOrClose(res) {
    if (res.destroyed)
        return;
    await new Promise(resolve => {
        const done = () => { res.off('drain', done); res.off('close', done); resolve(); };
        res.on('drain', done);
        res.on('close', done);
    });
}
/** A JSON answer with its length. */
export function sendJson(res, status, value, headers = {}) {
    const body = JSON.stringify(value, null, 2);
    res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body), ...headers });
    res.end(body);
}
//# sourceMappingURL=http.js.map