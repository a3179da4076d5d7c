/** The IAM client (functions/lib/clients/core.ts: settings, recorders, cache). */
import { IAMClient } from '@aws-sdk/client-iam';
import { clientConfig, lazy, recorded } from './core.ts';

export const iam = /* @__PURE__ */ lazy('iam', () => recorded('iam', new IAMClient(clientConfig())));
