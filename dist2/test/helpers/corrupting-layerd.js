// A layerd that corrupts what it uploads to peers: the real CLI and agent, with its LocalBlobs
// wrapped so that one byte of every chunk it serves is flipped. The e2e "bad peer" scenario runs
// it in place of bin/layerd.js (AgentOptions.bin); nothing of this lives in production code.
import '../../src/polyfill.js';
import { runCli } from '../../src/cli/main.js';
export const CORRUPTING_BIN = new URL(import.meta.url).pathname;
function corrupting(local) {
    return {
        inventory: async () => await local.inventory(),
        onChange: (listener) => local.onChange(listener),
        pieceHashes: async (digest) => await local.pieceHashes(digest),
        async *read(digest, start, end, signal) {
            for await (const chunk of local.read(digest, start, end, signal)) {
                const bad = Buffer.from(chunk);
                bad[bad.length >> 1] ^= 0xff;
                yield bad;
            }
        }
    };
}
// Run only as the entry script (tests import CORRUPTING_BIN from here too).
if (process.argv[1] === CORRUPTING_BIN)
    await runCli(process.argv, { wrapLocal: corrupting });
//# sourceMappingURL=corrupting-layerd.js.map