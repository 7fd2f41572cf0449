import { createSfnClient, StepFunctionsWorkflow } from '#lib/adapters/sfn.js';
import { ENV, requireEnv } from '#lib/env.js';
import { once } from './deps.js';
import { instrumentClient } from './tracer.js';

export const workflow = /* @__PURE__ */ once(
  () => new StepFunctionsWorkflow(createSfnClient(instrumentClient), requireEnv(ENV.stateMachineArn)),
);
