/** The EKS client (functions/lib/clients/core.ts: settings, recorders, cache). */
import { EKSClient } from '@aws-sdk/client-eks';
import { clientConfig, lazy, recorded } from './core.ts';

export const eks = /* @__PURE__ */ lazy('eks', () => recorded('eks', new EKSClient(clientConfig())));
