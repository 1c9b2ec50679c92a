// Several "hosts" on one machine: a bridge in its own network namespace + N host namespaces with
// veth pairs (10.77.S.X/24, multicast route), optional tbf shaping. With several subnets, each has
// its own bridge and a router namespace joins them (forwarding on, 10.77.S.254 on each; multicast
// is not routed, so mDNS stays inside a subnet, like VLANs). The root namespace is never touched
// (the veth pairs are created inside the bridge and router namespaces). Names are unique per test
// process (`ld<pid>n<k>…`), and destroy() deletes exactly what was made. mDNS must only ever run
// inside such namespaces.
import { execFileSync } from 'node:child_process';
import { spawnTracked, killAndWait, run, runOk, own, trackNetns, untrackNetns } from './proc.js';
let counter = 0;
/** Namespaces whose name starts with `prefix` (default: this process's prefix `ld<pid>n`). */
export function listNamespaces(prefix = `ld${process.pid}n`) {
    let out = '';
    try {
        out = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
    }
    catch {
        return [];
    }
    return out.split('\n').map(l => l.trim().split(' ')[0] ?? '').filter(n => n !== '' && n.startsWith(prefix));
}
export async function createNetwork(opts) {
    const layout = opts.subnets ?? [opts.hosts];
    const total = layout.reduce((n, k) => n + k, 0);
    if (total < 1 || total > 250 || layout.some(k => k < 1 || k > 250))
        throw new Error('hosts: 1..250');
    const subnet0 = opts.subnet ?? 0;
    const prefix = `ld${process.pid}n${++counter}`;
    const bridgeNs = `${prefix}b`;
    const made = [];
    const procs = new Set();
    const hosts = [];
    const addNs = async (name) => {
        await runOk('ip', ['netns', 'add', name], { timeoutMs: 10_000 });
        made.push(name);
        trackNetns(name);
    };
    let destroyed = false;
    const destroy = async () => {
        if (destroyed)
            return;
        destroyed = true;
        unregister();
        for (const p of procs)
            await killAndWait(p, { timeoutMs: 5000 });
        procs.clear();
        for (const name of [...made].reverse()) {
            await run('ip', ['netns', 'del', name], { timeoutMs: 10_000 });
            untrackNetns(name);
        }
        made.length = 0;
    };
    const unregister = own(destroy, opts.cleanup);
    try {
        const routerNs = `${prefix}r`;
        const routed = layout.length > 1;
        if (routed) {
            await addNs(routerNs);
            await runOk('ip', ['-n', routerNs, 'link', 'set', 'lo', 'up'], { timeoutMs: 10_000 });
            await runOk('ip', ['netns', 'exec', routerNs, 'sysctl', '-q', '-w', 'net.ipv4.ip_forward=1'], { timeoutMs: 10_000 });
        }
        let index = 0;
        for (const [k, count] of layout.entries()) {
            const subnet = subnet0 + k;
            const brNs = k === 0 ? bridgeNs : `${bridgeNs}${k}`;
            await addNs(brNs);
            const b = (args) => runOk('ip', ['-n', brNs, ...args], { timeoutMs: 10_000 });
            await b(['link', 'set', 'lo', 'up']);
            await b(['link', 'add', 'br0', 'type', 'bridge', 'mcast_snooping', '0']);
            await b(['link', 'set', 'br0', 'up']);
            const gateway = `10.77.${subnet}.254`;
            if (routed) {
                // The router's leg on this subnet: veth r<k> in the router, its peer on the bridge.
                await runOk('ip', ['-n', routerNs, 'link', 'add', `r${k}`, 'type', 'veth', 'peer', 'name', 'up0', 'netns', brNs], { timeoutMs: 10_000 });
                await b(['link', 'set', 'up0', 'master', 'br0']);
                await b(['link', 'set', 'up0', 'up']);
                await runOk('ip', ['-n', routerNs, 'addr', 'add', `${gateway}/24`, 'dev', `r${k}`], { timeoutMs: 10_000 });
                await runOk('ip', ['-n', routerNs, 'link', 'set', `r${k}`, 'up'], { timeoutMs: 10_000 });
            }
            for (let j = 1; j <= count; j++) {
                const i = ++index;
                const ns = `${prefix}h${i}`;
                const port = `v${i}`;
                await addNs(ns);
                const h = (args) => runOk('ip', ['-n', ns, ...args], { timeoutMs: 10_000 });
                await b(['link', 'add', port, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
                await b(['link', 'set', port, 'master', 'br0']);
                await b(['link', 'set', port, 'up']);
                const ip = `10.77.${subnet}.${j}`;
                await h(['addr', 'add', `${ip}/24`, 'dev', 'eth0']);
                await h(['link', 'set', 'lo', 'up']);
                await h(['link', 'set', 'eth0', 'up']);
                await h(['route', 'add', '224.0.0.0/4', 'dev', 'eth0']);
                // Only the test's own 10.77 subnets go through the router: there is no default route.
                if (routed)
                    await h(['route', 'add', '10.77.0.0/16', 'via', gateway]);
                hosts.push({ index: i, ns, ip, bridgePort: port, subnet, bridgeNs: brNs });
            }
        }
    }
    catch (err) {
        await destroy();
        throw err;
    }
    const pick = (h) => {
        const host = typeof h === 'number' ? hosts[h - 1] : h;
        if (host === undefined)
            throw new Error(`no host ${String(h)}`);
        return host;
    };
    const tbf = (s) => ['tbf', 'rate', s.rate, 'burst', s.burst ?? '64kb', 'latency', s.latency ?? '50ms'];
    return {
        prefix,
        bridgeNs,
        hosts,
        spawn: (h, cmd, args, o = {}) => {
            const host = pick(h);
            const t = spawnTracked('ip', ['netns', 'exec', host.ns, cmd, ...args], { name: `${cmd}@${host.ns}`, ...o });
            procs.add(t);
            void t.exited.then(() => procs.delete(t));
            return t;
        },
        run: async (h, cmd, args, o = {}) => {
            const host = pick(h);
            return await run('ip', ['netns', 'exec', host.ns, cmd, ...args], {
                timeoutMs: o.timeoutMs ?? 60_000,
                ...(o.env !== undefined ? { env: o.env } : {}),
                ...(o.input !== undefined ? { input: o.input } : {}),
            });
        },
        shape: async (h, s) => {
            const host = pick(h);
            const dir = s.direction ?? 'egress';
            if (dir === 'egress' || dir === 'both') {
                await runOk('tc', ['-n', host.ns, 'qdisc', 'replace', 'dev', 'eth0', 'root', ...tbf(s)], { timeoutMs: 10_000 });
            }
            if (dir === 'ingress' || dir === 'both') {
                await runOk('tc', ['-n', host.bridgeNs, 'qdisc', 'replace', 'dev', host.bridgePort, 'root', ...tbf(s)], { timeoutMs: 10_000 });
            }
        },
        unshape: async (h) => {
            const host = pick(h);
            await run('tc', ['-n', host.ns, 'qdisc', 'del', 'dev', 'eth0', 'root'], { timeoutMs: 10_000 });
            await run('tc', ['-n', host.bridgeNs, 'qdisc', 'del', 'dev', host.bridgePort, 'root'], { timeoutMs: 10_000 });
        },
        destroy,
    };
}
//# sourceMappingURL=netns.js.map