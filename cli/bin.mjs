#!/usr/bin/env node
// The `restore-jobs` command (package.json "bin"). The CLI is TypeScript, run through tsx's loader, so a clone runs
// its current source with no build step (npx restore-jobs) and so does a global install of the repository.
// The project runs on Node 22 (package.json engines). An older `node` first on the PATH (a global install's
// `#!/usr/bin/env node`) hands over to the Node 22 the package installed (node-<platform>-<arch>) when it is there.
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const MIN_MAJOR = 22;

function packagedNode() {
  try {
    const require = createRequire(import.meta.url);
    const pkg = require.resolve(`node-${process.platform}-${process.arch}/package.json`);
    return join(dirname(pkg), 'bin', 'node');
  } catch {
    return undefined;
  }
}

const major = Number(process.versions.node.split('.')[0]);
const node = major < MIN_MAJOR ? packagedNode() : undefined;
if (node !== undefined) {
  const child = spawn(node, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: 'inherit' });
  // Ctrl-C reaches the child from the terminal; a SIGTERM sent to this process is passed on.
  process.on('SIGINT', () => {});
  process.on('SIGTERM', () => child.kill('SIGTERM'));
  child.on('exit', (code, signal) => {
    if (signal) {
      process.removeAllListeners(signal);
      process.kill(process.pid, signal);
    } else process.exit(code ?? 1);
  });
} else {
  const { register } = await import('tsx/esm/api');
  register();
  const { run } = await import('./main.ts');
  process.exitCode = await run(process.argv.slice(2));
}
