/** The EventBridge client (functions/lib/clients/core.ts: settings, recorders, cache). */
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { clientConfig, lazy, recorded } from './core.ts';

export const events = /* @__PURE__ */ lazy('events', () => recorded('events', new EventBridgeClient(clientConfig())));
