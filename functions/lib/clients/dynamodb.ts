/** The DynamoDB clients (functions/lib/clients/core.ts: settings, recorders, cache). */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { clientConfig, lazy, recorded } from './core.ts';

// The document commands go through here: this directory is free of side effects (package.json), lib-dynamodb does not say so,
// so a module importing it directly would keep it and the DynamoDB client in every bundle that merely reaches that module.
export { DeleteCommand, GetCommand, PutCommand, ScanCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';

export const dynamodb = /* @__PURE__ */ lazy('dynamodb', () => recorded('dynamodb', new DynamoDBClient(clientConfig())));
/** The registry's document client: plain JS values in and out, `undefined` fields dropped (it shares the DynamoDB client's middleware, recorder included). */
export const documents = /* @__PURE__ */ lazy('documents', () => DynamoDBDocumentClient.from(dynamodb(), { marshallOptions: { removeUndefinedValues: true } }));
