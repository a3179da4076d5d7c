/** The CloudWatch client (functions/lib/clients/core.ts: settings, recorders, cache). */
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { clientConfig, lazy, recorded } from './core.ts';

export const cloudwatch = /* @__PURE__ */ lazy('cloudwatch', () => recorded('cloudwatch', new CloudWatchClient(clientConfig())));
