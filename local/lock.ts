import { readFile, unlink, writeFile } from 'node:fs/promises';

/**
 * A pid file that refuses a second live owner. LevelDB locks its directory too, but dynalite only
 * finds out on the first request and then crashes the process; this fails at start instead.
 * A lock left by a process that no longer exists is taken over.
 */
export async function acquirePidLock(
  file: string,
  what: string,
): Promise<{
  release(): Promise<void> /** The last owner died holding it: it did not stop cleanly. */;
  takenOver: boolean;
}> {
  let takenOver = false;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await writeFile(file, String(process.pid), { flag: 'wx' });
      return { release: () => unlink(file).catch(() => {}), takenOver };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const owner = Number((await readFile(file, 'utf8').catch(() => '')).trim());
    if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && isAlive(owner)) {
      throw new Error(`${what} is in use by process ${owner} (${file})`);
    }
    if (owner === process.pid) throw new Error(`${what} is already open in this process (${file})`);
    await unlink(file).catch(() => {});
    takenOver = true;
  }
  throw new Error(`Could not lock ${what} (${file})`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
