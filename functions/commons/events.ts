import { createEventBridgeClient, EventBridgePublisher } from '#lib/adapters/events.js';
import { ENV, requireEnv } from '#lib/env.js';
import { once } from './deps.js';
import { instrumentClient } from './tracer.js';

export const events = /* @__PURE__ */ once(
  () => new EventBridgePublisher(createEventBridgeClient(instrumentClient), requireEnv(ENV.eventBusName)),
);
