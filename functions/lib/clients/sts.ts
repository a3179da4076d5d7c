/** The STS client (functions/lib/clients/core.ts: settings, recorders, cache). */
import { STSClient } from '@aws-sdk/client-sts';
import { clientConfig, lazy, recorded } from './core.ts';

export const sts = /* @__PURE__ */ lazy('sts', () => recorded('sts', new STSClient(clientConfig())));
