// GET / on the agent's listener: one self-contained status page (inline CSS and script, no
// external assets, works offline) for people on this machine. It carries the first report and
// the recent history, so it shows everything at once, then polls /_layerd/status every second.
// Loopback clients only, like the admin routes whose data it shows.
import { DEFAULTS } from '../config/defaults.js';
import { fromLoopback } from '../registry/admin.js';
import { pageClient } from './page-client.js';
/** The handler of `GET /`. */
export function statusPage(status, init = {}) {
    const pollMs = init.pollMs ?? DEFAULTS.status.pagePollMs;
    const blobsPollMs = init.blobsPollMs ?? DEFAULTS.status.blobsPollMs;
    return async (req, res) => {
        const text = (status, body, headers = {}) => {
            res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(body), ...headers }).end(body);
        };
        if (req.method !== 'GET' && req.method !== 'HEAD') {
            text(405, 'use GET\n', { Allow: 'GET' });
            return;
        }
        if (!fromLoopback(req)) {
            text(403, 'the status page answers loopback clients only\n');
            return;
        }
        const [report, blobs] = await Promise.all([status.report(), status.recentBlobs()]);
        const html = page({ status: report, history: status.history(), blobs }, pollMs, blobsPollMs);
        res.writeHead(200, {
            'Content-Type': 'text/html; charset=utf-8',
            'Content-Length': Buffer.byteLength(html),
            'Cache-Control': 'no-store',
            // Nothing but itself: inline style and script, requests to this agent only.
            'Content-Security-Policy': "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; connect-src 'self'; img-src data:",
            'X-Content-Type-Options': 'nosniff'
        });
        res.end(req.method === 'HEAD' ? undefined : html);
    };
}
/** JSON inside <script>: `<` escaped so no value can close the element. */
const embed = (json) => json.replace(/</g, '\\u003c');
function page(data, pollMs, blobsPollMs) {
    return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>layerd status</title>
<style>${CSS}</style>
</head>
<body>
<header>
  <h1><span id="live" class="live ok"></span>layerd</h1>
  <span class="mono" id="self"></span>
  <span class="meta"><span id="version"></span> · <span id="uptime"></span> · <span class="mono" id="data-dir"></span></span>
</header>
<main>
  <section class="cards">
    <div class="card"><h2>Store</h2><div class="big" id="store-used"></div><div class="sub" id="store-max"></div><div id="store-bar"></div><div class="sub" id="store-blobs"></div></div>
    <div class="card wide"><h2>Served to clients</h2><div class="big" id="served"></div><div id="served-bar"></div><ul class="legend" id="served-legend"></ul><div class="sub" id="fetched"></div></div>
    <div class="card"><h2>Neighbours</h2><div class="big" id="peer-count"></div><div class="sub">connected agents</div></div>
    <div class="card"><h2>Fetching</h2><div class="big" id="transfer-count"></div><div class="sub" id="transfer-sub"></div></div>
  </section>
  <section class="panel">
    <div class="row"><h2>Bytes served to clients, by source <span class="sub" id="rate"></span></h2><ul class="legend inline"><li><i class="local"></i>local disk</li><li><i class="peer"></i>peers</li><li><i class="upstream"></i>upstream</li></ul></div>
    <svg id="chart" role="img" aria-label="bytes served per second by source, last 5 minutes"></svg>
  </section>
  <section class="panel">
    <h2>Transfers</h2>
    <table><thead><tr><th>blob</th><th class="num">size</th><th>progress</th><th>source</th><th>state</th></tr></thead><tbody id="transfers"></tbody></table>
  </section>
  <section class="panel">
    <h2>Peers</h2>
    <table><thead><tr><th>peer</th><th>found by</th><th>address</th><th class="num">blobs complete / all</th><th class="num">bytes held</th></tr></thead><tbody id="peers"></tbody></table>
  </section>
  <section class="panel">
    <h2>Stored blobs <span class="sub" id="blob-total"></span></h2>
    <table><thead><tr><th>blob</th><th>image</th><th class="num">size</th><th>state</th><th class="num">last used</th></tr></thead><tbody id="blobs"></tbody></table>
  </section>
</main>
${Object.entries(data).map(([k, v]) => `<script type="application/json" id="layerd-${k}">${embed(JSON.stringify(v))}</script>`).join('\n')}
<script>(${pageClient.toString()})(${pollMs}, ${blobsPollMs})</script>
</body>
</html>
`;
}
const CSS = `
:root { --local: #2f9e6e; --peer: #3b7ddd; --upstream: #e8893a; --partial: #9db7e0; --ink: #1d2430; --dim: #6b7585; --line: #e3e7ee; --bg: #f4f6f9; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink); background: var(--bg); }
header { display: flex; align-items: baseline; gap: 16px; flex-wrap: wrap; padding: 12px 28px; background: #1d2430; color: #fff; }
header h1 { margin: 0; font-size: 20px; letter-spacing: .5px; }
header .meta { color: #aab3c2; margin-left: auto; }
header #self { color: #cdd6e4; }
main { max-width: 1200px; margin: 0 auto; padding: 16px 28px 28px; }
h2 { margin: 0 0 8px; font-size: 12px; font-weight: 600; text-transform: uppercase; letter-spacing: .6px; color: var(--dim); }
h2 .sub { text-transform: none; letter-spacing: 0; font-weight: 400; margin-left: 8px; }
.cards { display: grid; grid-template-columns: 1.2fr 1.8fr 1fr 1fr; gap: 14px; }
.card, .panel { background: #fff; border: 1px solid var(--line); border-radius: 10px; padding: 12px 18px; box-shadow: 0 1px 2px rgba(20, 30, 50, .04); }
.panel { margin-top: 14px; }
.big { font-size: 26px; font-weight: 650; line-height: 1.15; }
.sub { color: var(--dim); font-size: 13px; }
.bar { display: flex; height: 10px; margin: 8px 0 6px; border-radius: 5px; background: #e9edf3; overflow: hidden; }
.bar span { display: block; height: 100%; transition: width .4s; }
.bar span:not([style*="width:0%"]) { min-width: 3px; }
.complete, .local { background: var(--local); }
.partial { background: var(--partial); }
.peer { background: var(--peer); }
.upstream { background: var(--upstream); }
.mixed { background: linear-gradient(90deg, var(--peer), var(--upstream)); }
.none { background: #b8c0cc; }
.legend { list-style: none; margin: 0 0 4px; padding: 0; }
.legend li + li { margin-top: 1px; }
.legend li { display: flex; align-items: center; gap: 6px; font-size: 13px; }
.legend li b { margin-left: auto; font-weight: 600; padding-right: 6px; }
.legend.inline { display: flex; gap: 18px; margin: 0; }
.row { display: flex; align-items: baseline; justify-content: space-between; }
.legend i { display: inline-block; width: 10px; height: 10px; border-radius: 3px; }
#chart { width: 100%; height: 150px; display: block; }
#chart .grid { stroke: var(--line); }
#chart .axis { fill: var(--dim); font-size: 11px; }
#chart .area.local { fill: var(--local); }
#chart .area.peer { fill: var(--peer); }
#chart .area.upstream { fill: var(--upstream); }
table { width: 100%; border-collapse: collapse; }
th { text-align: left; font-size: 12px; font-weight: 600; color: var(--dim); padding: 6px 8px; border-bottom: 1px solid var(--line); }
td { padding: 6px 8px; border-bottom: 1px solid var(--line); vertical-align: middle; }
tr:last-child td { border-bottom: 0; }
.num { text-align: right; white-space: nowrap; }
.mono { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: 12.5px; }
.small { font-size: 12px; color: var(--dim); }
.empty { color: var(--dim); text-align: center; padding: 14px; }
td.progress { width: 34%; }
td.progress .bar { margin: 0 0 3px; height: 8px; }
td.progress span { font-size: 12px; color: var(--dim); }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px; color: #fff; }
.badge.found { background: #e9edf3; color: var(--ink); }
.badge.banned { background: #c93c3c; }
.live { display: inline-block; width: 9px; height: 9px; border-radius: 50%; margin-right: 9px; vertical-align: 2px; }
.live.ok { background: #3fcf8e; box-shadow: 0 0 0 3px rgba(63, 207, 142, .25); }
.live.down { background: #e05252; }
@media (max-width: 820px) { .cards { grid-template-columns: 1fr; } }
`;
//# sourceMappingURL=page.js.map