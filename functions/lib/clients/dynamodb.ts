/** The DynamoDB clients (functions/lib/clients/core.ts: settings, recorders, cache). */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { clientConfig, lazy, recorded } from './core.ts';

export const dynamodb = /* @__PURE__ */ lazy('dynamodb', () => recorded('dynamodb', new DynamoDBClient(clientConfig())));
/** The registry's document client: plain JS values in and out, `undefined` fields dropped (it shares the DynamoDB client's middleware, recorder included). */
export const documents = /* @__PURE__ */ lazy('documents', () => DynamoDBDocumentClient.from(dynamodb(), { marshallOptions: { removeUndefinedValues: true } }));
