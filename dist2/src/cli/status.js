// `layerd status`: what the running agent is doing — peers, the store against its quota, blobs
// being fetched, bytes served by source. `--json` prints the agent's report as it is
// (src/status/status.ts); otherwise a summary for people. The same data as the page at GET /.
import { DEFAULTS } from '../config/defaults.js';
import { AgentClient, exitWithFailure } from './client.js';
import { formatDuration, formatSize, percent, shortDigest } from './format.js';
export function registerStatus(program) {
    program.command('status')
        .description('what the running agent is doing: peers, store, transfers, bytes served by source (also a live page at http://LISTEN/)')
        .option('--listen <host:port>', `where the running agent listens (default: listen of --config, else ${DEFAULTS.listen})`)
        .option('--config <file>', 'YAML config file to read listen from (default: none)')
        .option('--json', 'print the report as one JSON object', false)
        .action(async (opts) => { await status(opts).catch(exitWithFailure); });
}
async function status(opts) {
    const client = await AgentClient.open(opts);
    let r;
    try {
        r = await client.call('status', { timeoutMs: 10_000 });
    }
    finally {
        await client.close();
    }
    process.stdout.write(opts.json ? JSON.stringify(r, null, 2) + '\n' : summary(r, client.listen));
}
/** The report as a few aligned lines. */
export function summary(r, listen) {
    const out = [];
    const row = (label, text) => { out.push(`${label.padEnd(10)}${text}`); };
    row('agent', `layerd ${r.version} on ${listen}, up ${formatDuration(r.time - r.startedAt)}; status page http://${listen}/`);
    row('peer id', r.self ?? 'peer network off');
    const s = r.store;
    row('store', `${formatSize(s.usedBytes)} of ${formatSize(s.maxBytes)} used (${percent(s.usedBytes, s.maxBytes)}); ${s.blobs.complete} complete blob${s.blobs.complete === 1 ? '' : 's'} (${formatSize(s.bytes.complete)}), ${s.blobs.partial} partial (${formatSize(s.bytes.partial)})`);
    const served = r.bytes.local + r.bytes.peer + r.bytes.upstream;
    row('served', `${formatSize(served)} to clients: local ${formatSize(r.bytes.local)}, peers ${formatSize(r.bytes.peer)}, upstream ${formatSize(r.bytes.upstream)}`);
    row('fetched', `${formatSize(r.fetched.peer)} from peers, ${formatSize(r.fetched.upstream)} from upstream`);
    row('peers', r.peers.length === 0 ? 'none connected' : `${r.peers.length} connected`);
    for (const p of r.peers) {
        out.push(`  ${p.peerId}  ${(p.foundBy ?? '-').padEnd(7)}  ${String(p.completeBlobs).padStart(4)}/${String(p.blobs).padEnd(4)} blobs  ${formatSize(p.bytes).padStart(10)}  ${(p.addresses[0] ?? '').replace(/\/p2p\/[^/]+$/, '')}${p.bannedUntil !== undefined ? '  (banned)' : ''}`);
    }
    row('fetching', r.transfers.length === 0 ? 'nothing' : `${r.transfers.length} blob${r.transfers.length === 1 ? '' : 's'}`);
    for (const t of r.transfers) {
        out.push(`  ${shortDigest(t.digest)}  ${formatSize(t.presentBytes).padStart(10)} of ${formatSize(t.size).padEnd(10)} ${percent(t.presentBytes, t.size).padStart(6)}  ${(t.source ?? '-').padEnd(8)}  ${t.state}, ${t.activeTransfers} stream${t.activeTransfers === 1 ? '' : 's'}`);
    }
    return out.join('\n') + '\n';
}
//# sourceMappingURL=status.js.map