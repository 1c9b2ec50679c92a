// Image platforms (`os/architecture[/variant]`) as image indexes name them: parsed, printed,
// matched, and the one of this machine.
import { NameInvalidError } from '../errors.js';
const PART = /^[a-z0-9._-]{1,32}$/;
/** `linux/amd64`, `linux/arm64/v8`; throws NameInvalidError. */
export function parsePlatform(s) {
    const parts = s.toLowerCase().split('/');
    if (parts.length < 2 || parts.length > 3 || !parts.every(p => PART.test(p))) {
        throw new NameInvalidError(`invalid platform ${JSON.stringify(s.slice(0, 64))}: expected OS/ARCH[/VARIANT], e.g. linux/amd64`);
    }
    return parts.length === 3 ? { os: parts[0], architecture: parts[1], variant: parts[2] } : { os: parts[0], architecture: parts[1] };
}
export function formatPlatform(p) {
    return `${p.os}/${p.architecture}${p.variant !== undefined ? `/${p.variant}` : ''}`;
}
/** Node's `process.arch` in OCI terms. */
const ARCH = { x64: 'amd64', ia32: '386', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64', loong64: 'loong64', mips: 'mips', mipsel: 'mipsle' };
/** The platform of this machine (what a client here would pull). */
export function hostPlatform() {
    return { os: process.platform === 'win32' ? 'windows' : process.platform, architecture: ARCH[process.arch] ?? process.arch };
}
/** `want` matches `have` when os and architecture agree, and the variant too when `want` names one. */
export function platformMatches(want, have) {
    if (have === undefined)
        return false;
    return want.os === have.os && want.architecture === have.architecture &&
        (want.variant === undefined || want.variant === have.variant);
}
//# sourceMappingURL=platform.js.map