// The status page's script. It runs in the browser: page.ts embeds this function's source
// (Function.prototype.toString of the compiled code), so it must not use anything from outside
// its own body but types. It renders the embedded first report at once, then polls
// /_layerd/status. Text from the network (peer ids, addresses) only ever goes in as textContent.
export function pageClient(pollMs, blobsPollMs) {
    const SRC = ['local', 'peer', 'upstream'];
    const byId = (id) => document.getElementById(id);
    const data = (id) => JSON.parse(byId(id).textContent ?? 'null');
    const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
    const size = (n) => {
        let i = 0;
        while (n >= 1024 && i < UNITS.length - 1) {
            n /= 1024;
            i++;
        }
        // Three significant digits at most, no trailing zeros: 8 MiB, 4.5 MiB, 12.3 GiB, 512 KiB.
        const digits = i === 0 || n >= 100 ? 0 : n >= 10 ? 1 : 2;
        return `${String(Number(n.toFixed(digits)))} ${UNITS[i]}`;
    };
    const pct = (a, b) => b <= 0 || a <= 0 ? '0%' : a * 1000 < b ? '<0.1%' : `${Math.min(100, a * 100 / b).toFixed(a >= b ? 0 : 1)}%`;
    /** A peer id by its tail (they all start alike), a digest by its head as docker shows it. */
    const shortPeer = (id) => id.length > 20 ? `…${id.slice(-16)}` : id;
    const shortDigest = (d) => d.startsWith('sha256:') ? d.slice(0, 7 + 16) : d;
    const noPeerId = (addr) => addr.replace(/\/p2p\/[^/]+$/, '');
    const ago = (ms) => ms < 60_000 ? `${Math.round(ms / 1000)} s` : ms < 3_600_000 ? `${Math.round(ms / 60_000)} min` : `${(ms / 3_600_000).toFixed(1)} h`;
    const el = (tag, attrs = {}, ...kids) => {
        const e = document.createElement(tag);
        for (const [k, v] of Object.entries(attrs))
            e.setAttribute(k, v);
        for (const k of kids)
            e.append(k);
        return e;
    };
    const badge = (text, cls = text) => el('span', { class: `badge ${cls}` }, text);
    const bar = (parts, total) => el('div', { class: 'bar' }, ...parts.map(([n, cls]) => el('span', { class: cls, style: `width:${total > 0 ? Math.min(100, n * 100 / total) : 0}%` })));
    const points = data('layerd-history') ?? [];
    /** The chart shows the last 5 minutes, or since the agent started when that is shorter (at least 1). */
    const WINDOW_MS = 5 * 60_000;
    let updates = 0;
    let last;
    function addPoint(r) {
        const prev = points[points.length - 1];
        // A point per poll interval at most: a burst of polls would make rates out of noise.
        if (prev !== undefined && r.time - prev.t < pollMs * 0.8)
            return;
        points.push({ t: r.time, ...r.bytes });
        while (points.length > 2 && points[1].t < r.time - WINDOW_MS)
            points.shift();
    }
    function chart() {
        const svg = byId('chart');
        const W = svg.clientWidth > 0 ? svg.clientWidth : 1100;
        const H = 150;
        const L = 72;
        const B = 22;
        const T = 8;
        svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
        const rates = [];
        for (let i = 1; i < points.length; i++) {
            const dt = (points[i].t - points[i - 1].t) / 1000;
            if (dt <= 0)
                continue;
            const r = { t0: points[i - 1].t, t: points[i].t, local: 0, peer: 0, upstream: 0 };
            for (const s of SRC)
                r[s] = Math.max(0, points[i][s] - points[i - 1][s]) / dt;
            rates.push(r);
        }
        const now = last?.time ?? Date.now();
        const span = Math.min(WINDOW_MS, Math.max(60_000, now - (points[0]?.t ?? now)));
        const x = (t) => L + (W - L - 8) * Math.max(0, 1 - (now - t) / span);
        let max = 1024;
        for (const r of rates)
            max = Math.max(max, r.local + r.peer + r.upstream);
        // Four grid lines at a round step: 2^n or 1.5 × 2^n bytes per second.
        const pow = 2 ** Math.ceil(Math.log2(max / 4));
        const step = pow * 0.75 >= max / 4 ? pow * 0.75 : pow;
        max = step * 4;
        const y = (v) => T + (H - T - B) * (1 - v / max);
        const NS = 'http://www.w3.org/2000/svg';
        const add = (tag, attrs, text) => {
            const e = document.createElementNS(NS, tag);
            for (const [k, v] of Object.entries(attrs))
                e.setAttribute(k, String(v));
            if (text !== undefined)
                e.textContent = text;
            svg.append(e);
        };
        svg.replaceChildren();
        for (let i = 0; i <= 4; i++) {
            add('line', { x1: L, x2: W - 8, y1: y(step * i), y2: y(step * i), class: 'grid' });
            add('text', { x: L - 8, y: y(step * i) + 4, 'text-anchor': 'end', class: 'axis' }, `${size(step * i)}/s`);
        }
        const tick = [10_000, 15_000, 30_000, 60_000].find(s => span / s <= 6) ?? 60_000;
        for (let k = 0; k * tick <= span + 1; k++) {
            const back = k * tick;
            add('text', { x: x(now - back), y: H - 6, 'text-anchor': k === 0 ? 'end' : back + tick > span + 1 ? 'start' : 'middle', class: 'axis' }, k === 0 ? 'now' : back % 60_000 === 0 ? `−${back / 60_000} min` : `−${back / 1000} s`);
        }
        if (rates.length === 0)
            return;
        // Stacked areas, each bar of the step chart spanning its sample interval.
        let base = rates.map(() => 0);
        for (const s of SRC) {
            const top = rates.map((r, i) => base[i] + r[s]);
            let d = '';
            rates.forEach((r, i) => {
                d += `${i === 0 ? 'M' : 'L'}${x(r.t0).toFixed(1)},${y(top[i]).toFixed(1)}L${x(r.t).toFixed(1)},${y(top[i]).toFixed(1)}`;
            });
            for (let i = rates.length - 1; i >= 0; i--) {
                d += `L${x(rates[i].t).toFixed(1)},${y(base[i]).toFixed(1)}L${x(rates[i].t0).toFixed(1)},${y(base[i]).toFixed(1)}`;
            }
            add('path', { d: d + 'Z', class: `area ${s}` });
            base = top;
        }
        const latest = rates[rates.length - 1];
        byId('rate').textContent = `${size(latest.local + latest.peer + latest.upstream)}/s now`;
    }
    function render(r) {
        last = r;
        addPoint(r);
        byId('self').textContent = r.self ?? 'peer network off';
        byId('self').title = r.self ?? '';
        byId('version').textContent = `v${r.version}`;
        byId('uptime').textContent = `up ${ago(r.time - r.startedAt)}`;
        byId('data-dir').textContent = r.dataDir;
        const st = r.store;
        byId('store-used').textContent = size(st.usedBytes);
        byId('store-max').textContent = `of ${size(st.maxBytes)} (${pct(st.usedBytes, st.maxBytes)})`;
        byId('store-bar').replaceChildren(bar([[st.bytes.complete, 'complete'], [st.bytes.partial, 'partial']], st.maxBytes));
        byId('store-blobs').textContent = `${st.blobs.complete} complete · ${st.blobs.partial} partial blob${st.blobs.partial === 1 ? '' : 's'}`;
        const served = r.bytes.local + r.bytes.peer + r.bytes.upstream;
        byId('served').textContent = size(served);
        byId('served-bar').replaceChildren(bar(SRC.map(s => [r.bytes[s], s]), served));
        byId('served-legend').replaceChildren(...SRC.map(s => el('li', {}, el('i', { class: s }), `${s} `, el('b', {}, size(r.bytes[s])), ` ${pct(r.bytes[s], served)}`)));
        byId('fetched').textContent = `fetched: ${size(r.fetched.peer)} from peers, ${size(r.fetched.upstream)} upstream`;
        byId('peer-count').textContent = String(r.peers.length);
        byId('transfer-count').textContent = String(r.transfers.length);
        const want = r.transfers.reduce((n, x) => n + x.size, 0);
        const have = r.transfers.reduce((n, x) => n + x.presentBytes, 0);
        byId('transfer-sub').textContent = r.transfers.length === 0 ? 'blobs being fetched' : `${size(have)} of ${size(want)}`;
        byId('transfers').replaceChildren(...(r.transfers.length === 0
            ? [el('tr', {}, el('td', { colspan: '5', class: 'empty' }, 'No blobs being fetched right now.'))]
            : r.transfers.map(t => el('tr', { 'data-digest': t.digest }, el('td', { class: 'mono', title: t.digest }, shortDigest(t.digest)), el('td', { class: 'num' }, size(t.size)), el('td', { class: 'progress' }, bar([[t.presentBytes, t.source ?? 'none']], t.size), el('span', {}, `${size(t.presentBytes)} · ${pct(t.presentBytes, t.size)}`)), el('td', {}, t.source !== null ? badge(t.source) : badge('waiting', 'none')), el('td', {}, `${t.state}${t.activeTransfers > 0 ? ` · ${t.activeTransfers} stream${t.activeTransfers > 1 ? 's' : ''}` : ''}`)))));
        byId('peers').replaceChildren(...(r.peers.length === 0
            ? [el('tr', {}, el('td', { colspan: '5', class: 'empty' }, r.self === null ? 'The peer network is off (--no-p2p).' : 'No neighbours connected.'))]
            : r.peers.map(p => el('tr', { 'data-peer': p.peerId }, el('td', { class: 'mono', title: p.peerId }, shortPeer(p.peerId), ...(p.bannedUntil !== undefined ? [' ', badge('banned')] : [])), el('td', {}, p.foundBy !== undefined ? badge(p.foundBy, 'found') : '—'), el('td', { class: 'mono small' }, noPeerId(p.addresses[0] ?? '')), el('td', { class: 'num' }, `${p.completeBlobs} / ${p.blobs}`), el('td', { class: 'num' }, size(p.bytes))))));
        chart();
    }
    function renderBlobs(b) {
        byId('blob-total').textContent = b.total > b.blobs.length ? `${b.blobs.length} most recently used of ${b.total}` : `${b.total}`;
        const now = last?.time ?? Date.now();
        byId('blobs').replaceChildren(...(b.blobs.length === 0
            ? [el('tr', {}, el('td', { colspan: '5', class: 'empty' }, 'The store is empty.'))]
            : b.blobs.map(x => el('tr', { 'data-digest': x.digest }, el('td', { class: 'mono', title: x.digest }, shortDigest(x.digest), ...(x.pinned ? [' ', badge('pinned', 'found')] : [])), el('td', { class: 'small' }, x.origin ?? ''), el('td', { class: 'num' }, size(x.size)), el('td', {}, x.state === 'complete' ? badge('complete', 'local') : badge(`partial ${pct(x.presentBytes, x.size)}`, 'none')), el('td', { class: 'num small' }, `${ago(Math.max(0, now - x.lastAccess))} ago`)))));
    }
    async function pollBlobs() {
        try {
            const res = await fetch('/_layerd/blobs', { cache: 'no-store' });
            if (res.ok)
                renderBlobs(await res.json());
        }
        catch { }
        finally {
            setTimeout(() => { void pollBlobs(); }, blobsPollMs);
        }
    }
    async function poll() {
        try {
            const res = await fetch('/_layerd/status', { cache: 'no-store' });
            if (!res.ok)
                throw new Error(`status ${res.status}`);
            render(await res.json());
            updates++;
            document.body.dataset.updates = String(updates);
            byId('live').className = 'live ok';
            byId('live').title = `updated ${new Date().toLocaleTimeString()}`;
        }
        catch {
            byId('live').className = 'live down';
            byId('live').title = 'agent not answering';
        }
        finally {
            setTimeout(() => { void poll(); }, pollMs);
        }
    }
    render(data('layerd-status'));
    renderBlobs(data('layerd-blobs'));
    document.body.dataset.updates = '0';
    window.addEventListener('resize', chart);
    setTimeout(() => { void poll(); }, pollMs);
    setTimeout(() => { void pollBlobs(); }, blobsPollMs);
}
//# sourceMappingURL=page-client.js.map