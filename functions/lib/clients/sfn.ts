/** The Step Functions client (functions/lib/clients/core.ts: settings, recorders, cache). */
import { SFNClient } from '@aws-sdk/client-sfn';
import { clientConfig, lazy, recorded } from './core.ts';

export const sfn = /* @__PURE__ */ lazy('sfn', () => recorded('sfn', new SFNClient(clientConfig())));
