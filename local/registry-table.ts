/**
 * The registry table in the emulator, with the key schema the CDK construct gives it on AWS
 * (partition key `workload`, a string; on-demand). Idempotent.
 */
import { CreateTableCommand, DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import { dynamodb } from '../functions/lib/clients.ts';
import { isAwsError } from '../functions/lib/errors.ts';
import { REGISTRY_KEY } from '../functions/lib/registry.ts';

export const LOCAL_REGISTRY_TABLE = 'mesh-onboarding-registry';

export async function createRegistryTable(name = LOCAL_REGISTRY_TABLE): Promise<string> {
  try {
    await dynamodb().send(
      new CreateTableCommand({
        TableName: name,
        AttributeDefinitions: [{ AttributeName: REGISTRY_KEY, AttributeType: 'S' }],
        KeySchema: [{ AttributeName: REGISTRY_KEY, KeyType: 'HASH' }],
        BillingMode: 'PAY_PER_REQUEST',
      }),
    );
  } catch (e) {
    if (!isAwsError(e, 'ResourceInUseException')) throw e;
  }
  await dynamodb().send(new DescribeTableCommand({ TableName: name }));
  return name;
}
