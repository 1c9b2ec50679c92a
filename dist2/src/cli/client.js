// How a CLI command talks to the running agent's admin API (/_layerd/*): where it listens (the
// flag, else the config file, else the default), one JSON request at a time with a short
// connect timeout, so that "no agent here" is said at once, and the agent's error bodies
// turned into one line with the agent's error code.
import { Agent, request } from 'undici';
import { loadConfig } from '../config/load.js';
import { parseListen } from '../config/registries.js';
import { errorMessage } from '../errors.js';
/** Longest wait for the TCP connection: the agent runs on this machine. */
const CONNECT_TIMEOUT_MS = 1500;
/** A failure to tell the user, with the exit code it means (2: bad input). */
export class CliFailure extends Error {
    exitCode;
    code;
    constructor(message, exitCode = 1, code) {
        super(message);
        this.exitCode = exitCode;
        this.code = code;
    }
}
/** Error codes of the agent that mean the request itself was wrong. */
const BAD_INPUT = new Set(['NAME_INVALID', 'DIGEST_INVALID', 'INVALID_REQUEST']);
export class AgentClient {
    listen;
    dispatcher = new Agent({ connect: { timeout: CONNECT_TIMEOUT_MS }, keepAliveTimeout: 10_000 });
    base;
    constructor(listen) {
        this.listen = listen;
        const { host, port } = parseListen(listen);
        this.base = `http://${host.includes(':') ? `[${host}]` : host}:${port}/_layerd/`;
    }
    /** `--listen`, else `listen` of `--config`, else the default. A bad config → exit 2. */
    static async open(opts) {
        let listen;
        try {
            listen = (await loadConfig(opts.config, (raw) => { if (opts.listen !== undefined)
                raw.listen = opts.listen; })).listen;
        }
        catch (err) {
            throw new CliFailure(errorMessage(err), 2);
        }
        return new AgentClient(listen);
    }
    /** One request; the JSON answer of a 200, else CliFailure with the agent's message. */
    async call(path, opts = {}) {
        const timeoutMs = opts.timeoutMs ?? 30_000;
        let res;
        try {
            res = await request(this.base + path, {
                method: opts.method ?? 'GET',
                dispatcher: this.dispatcher,
                headersTimeout: timeoutMs,
                bodyTimeout: timeoutMs,
                ...(opts.body !== undefined ? { body: JSON.stringify(opts.body), headers: { 'content-type': 'application/json' } } : {})
            });
        }
        catch (err) {
            const why = err?.code === 'UND_ERR_CONNECT_TIMEOUT' ? 'connect timeout' : err?.code ?? errorMessage(err);
            throw new CliFailure(`no agent answering on ${this.listen} (${why}); start one with \`layerd serve\``);
        }
        const text = await res.body.text();
        let body;
        try {
            body = JSON.parse(text);
        }
        catch {
            body = undefined;
        }
        if (res.statusCode === 200 && body !== undefined)
            return body;
        const e = body?.errors?.[0];
        const code = e?.detail?.code ?? e?.code;
        const message = e?.message ?? body?.error ?? `agent answered ${res.statusCode}`;
        throw new CliFailure(message, code !== undefined && BAD_INPUT.has(code) ? 2 : 1, code);
    }
    async close() { await this.dispatcher.close(); }
}
/** Print a failure as one line on stderr and exit with its code. */
export function exitWithFailure(err) {
    const f = err instanceof CliFailure ? err : new CliFailure(errorMessage(err));
    process.stderr.write(`layerd: ${f.message}\n`);
    process.exit(f.exitCode);
}
//# sourceMappingURL=client.js.map