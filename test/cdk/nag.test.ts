import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Validations } from 'aws-cdk-lib';
import type { CloudAssembly } from 'aws-cdk-lib/cx-api';
import { AwsSolutionsChecks } from 'cdk-nag';
import { afterAll, describe, expect, it } from 'vitest';
import { addRestoreJobsStacks } from '../../cdk/restore-jobs.js';

interface FunctionProps {
  readonly Code: { readonly S3Key: string };
}

// The one synth with everything on (PLATFORM.md): CloudFormation validation, real esbuild bundling of the
// functions/*.ts entries, and cdk-nag's AwsSolutions pack as a validation plugin, wired like cdk/app.ts.
describe('the whole app', () => {
  const outdir = mkdtempSync(join(tmpdir(), 'restore-jobs-cdk-'));
  afterAll(() => rmSync(outdir, { recursive: true, force: true }));
  let assembly: CloudAssembly | undefined;
  /** The service stack's own functions (ServiceStack.functions), each one bundle. */
  let functionCount = 0;

  it('synthesizes with bundling and validation on, with no unacknowledged cdk-nag finding', () => {
    const app = new App({ outdir });
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    functionCount = Object.keys(addRestoreJobsStacks(app).service.functions).length;
    try {
      assembly = app.synth();
    } catch (error) {
      // The thrown error only says "Validation failed"; the findings are in the report.
      const report = join(outdir, 'validation-report.json');
      const findings = existsSync(report) ? readFileSync(report, 'utf8') : '(no validation report written)';
      throw new Error(`${String(error)}\n${findings}`);
    }
    expect(assembly.stacks.map((stack) => stack.stackName).sort()).toEqual([
      'RestoreJobs-Service',
      'RestoreJobs-Stateful',
    ]);
  });

  it('bundles each function as an ESM module with a require shim that loads on Node 22', () => {
    expect(assembly).toBeDefined();
    const service = assembly?.getStackByName('RestoreJobs-Service');
    const resources = service?.template.Resources as Record<string, { Type: string; Properties: FunctionProps }>;
    // CDK's bucket notifications handler is inline Python (Code.ZipFile), not one of ours.
    const functions = Object.values(resources).filter(
      (resource) => resource.Type === 'AWS::Lambda::Function' && resource.Properties.Code.S3Key !== undefined,
    );
    expect(functions).toHaveLength(functionCount);
    // The staged asset directory is named after the asset hash, which is also the S3 key of the zip.
    const bundles = functions.map((fn) =>
      join(outdir, `asset.${fn.Properties.Code.S3Key.replace(/\.zip$/, '')}`, 'index.mjs'),
    );
    for (const bundle of bundles) {
      expect(readFileSync(bundle, 'utf8')).toMatch(/^import \{ createRequire as __restoreJobsCreateRequire \}/);
      expect(existsSync(`${bundle}.map`)).toBe(true);
    }
    // Importing runs every bundle's module scope (SDK clients, middy, zod, bundled CommonJS behind
    // the require shim) in a fresh Node, as Lambda's ESM loader would. Handlers create adapters lazily, so no
    // environment or network is needed.
    const script =
      `for (const b of ${JSON.stringify(bundles)}) { const m = await import(b); ` +
      `if (typeof m.handler !== 'function') throw new Error(b + ': no handler export'); }`;
    const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      encoding: 'utf8',
      env: { PATH: process.env.PATH ?? '', AWS_REGION: 'us-east-1' },
      timeout: 30_000,
    });
    expect(result.status, result.stderr).toBe(0);
  });
});
