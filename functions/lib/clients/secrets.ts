/** The Secrets Manager client (functions/lib/clients/core.ts: settings, recorders, cache). */
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { clientConfig, lazy, recorded } from './core.ts';

export const secrets = /* @__PURE__ */ lazy('secrets', () => recorded('secrets', new SecretsManagerClient(clientConfig())));
