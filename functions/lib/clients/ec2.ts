/** The EC2 client (functions/lib/clients/core.ts: settings, recorders, cache). */
import { EC2Client } from '@aws-sdk/client-ec2';
import { clientConfig, lazy, recorded } from './core.ts';

export const ec2 = /* @__PURE__ */ lazy('ec2', () => recorded('ec2', new EC2Client(clientConfig())));
