// Reading and writing the container clients' files for `layerd setup`: a missing file reads as
// undefined, every failure is one line naming the file, an existing file is backed up before it
// is replaced, and the new content goes in with a rename (a crash leaves the old or the new file).
import { chmod, chown, copyFile, constants, mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { ClientFileError } from '../../errors.js';
/** The file's text, or undefined when it does not exist. */
export async function readClientFile(path) {
    try {
        return await readFile(path, 'utf8');
    }
    catch (err) {
        if (err?.code === 'ENOENT')
            return undefined;
        if (err?.code === 'EISDIR')
            throw new ClientFileError(`${path} is a directory, not a file`);
        throw new ClientFileError(`cannot read ${path} (${err?.code ?? 'error'})`);
    }
}
/** `PATH.layerd-backup-20261201T210812Z`: sorts by time, and says who made it. */
export function backupPath(path, now) {
    const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
    return `${path}.layerd-backup-${stamp}`;
}
async function exists(path) {
    try {
        await stat(path);
        return true;
    }
    catch {
        return false;
    }
}
/** Write `change` (unless dry-run) and return the report line: created / updated / unchanged. */
export async function applyChange(change, opts) {
    const { path, before, after } = change;
    if (before === after)
        return `unchanged ${path}`;
    let backup;
    if (before !== undefined) {
        backup = backupPath(path, opts.now ?? new Date());
        for (let i = 2; await exists(backup); i++)
            backup = `${backupPath(path, opts.now ?? new Date())}-${i}`;
    }
    const verb = before === undefined ? 'create' : 'update';
    if (opts.dryRun) {
        const body = after.replace(/\n$/, '').split('\n').map(l => l === '' ? '' : `    ${l}`).join('\n');
        return `would ${verb} ${path}${backup !== undefined ? ` (backup: ${backup})` : ''}:\n${body}`;
    }
    const where = (err) => `cannot write ${path} (${err?.code ?? 'error'})`;
    let mode = 0o644;
    let owner;
    if (before !== undefined && backup !== undefined) {
        try {
            const st = await stat(path);
            mode = st.mode & 0o7777;
            owner = { uid: st.uid, gid: st.gid };
            // COPYFILE_EXCL: never overwrite an older backup.
            await copyFile(path, backup, constants.COPYFILE_EXCL);
        }
        catch (err) {
            throw new ClientFileError(`cannot back up ${path} to ${backup} (${err?.code ?? 'error'})`);
        }
    }
    else {
        try {
            await mkdir(dirname(path), { recursive: true });
        }
        catch (err) {
            throw new ClientFileError(where(err));
        }
    }
    const tmp = join(dirname(path), `.${basename(path)}.layerd-${process.pid}.tmp`);
    try {
        await writeFile(tmp, after, { mode, flag: 'wx' });
        await chmod(tmp, mode); // whatever the umask: the replaced file's mode
        if (owner !== undefined && process.getuid?.() === 0)
            await chown(tmp, owner.uid, owner.gid);
        await rename(tmp, path);
    }
    catch (err) {
        await rm(tmp, { force: true }).catch(() => { });
        throw new ClientFileError(where(err));
    }
    return backup !== undefined ? `updated ${path} (backup: ${backup})` : `created ${path}`;
}
//# sourceMappingURL=files.js.map