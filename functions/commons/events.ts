import { createEventBridgeClient, EventBridgePublisher } from '#lib/adapters/events.js';
import { ENV, requireEnv } from '#lib/env.js';
import { once } from './deps.js';

export const events = /* @__PURE__ */ once(
  () => new EventBridgePublisher(createEventBridgeClient(), requireEnv(ENV.eventBusName)),
);
