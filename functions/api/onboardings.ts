/**
 * The deployed onboarding API: API Gateway (REST, AWS_IAM) → this function → the contract in
 * functions/lib/onboarding-api.ts with a Step Functions backend. (A skeleton until the
 * Step Functions backend lands: it answers 501.)
 */
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import type { StepPermissions } from '#lib/permissions.ts';

export const permissions: StepPermissions = [];

export async function handler(_event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> {
  return { statusCode: 501, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ message: 'not implemented yet' }) };
}
