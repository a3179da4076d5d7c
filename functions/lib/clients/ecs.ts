/** The ECS client (functions/lib/clients/core.ts: settings, recorders, cache). */
import { ECSClient } from '@aws-sdk/client-ecs';
import { clientConfig, lazy, recorded } from './core.ts';

export const ecs = /* @__PURE__ */ lazy('ecs', () => recorded('ecs', new ECSClient(clientConfig())));
