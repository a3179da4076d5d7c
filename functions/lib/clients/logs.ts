/** The CloudWatch Logs client (functions/lib/clients/core.ts: settings, recorders, cache). */
import { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { clientConfig, lazy, recorded } from './core.ts';

export const logs = /* @__PURE__ */ lazy('logs', () => recorded('logs', new CloudWatchLogsClient(clientConfig())));
