import {
  AttachRolePolicyCommand,
  CreateRoleCommand,
  DeleteRolePolicyCommand,
  GetRoleCommand,
  GetRolePolicyCommand,
  IAMClient,
  ListAttachedRolePoliciesCommand,
  PutRolePolicyCommand,
  UpdateAssumeRolePolicyCommand,
} from '@aws-sdk/client-iam';
import { CloudWatchLogsClient, CreateLogGroupCommand, DescribeLogGroupsCommand, PutRetentionPolicyCommand } from '@aws-sdk/client-cloudwatch-logs';
import { CreateSecretCommand, DescribeSecretCommand, PutSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { STSClient } from '@aws-sdk/client-sts';
import type { Context } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { handler as caSecretHandler } from '../../functions/ensure-ca-secret.ts';
import { handler as executionRoleHandler } from '../../functions/ensure-execution-role.ts';
import { handler as logGroupHandler } from '../../functions/ensure-log-group.ts';
import { EXEC_POLICY_NAME, handler as taskRoleHandler, ensureTaskRole } from '../../functions/ensure-task-role.ts';
import { ecsTasksTrustPolicy } from '../../functions/lib/aws/iam-role.ts';
import { AwsThrottledError, IamPropagationError, ResourceConflictError, ResourceNotReadyError, UnexpectedError } from '../../functions/lib/errors.ts';
import type { WorkflowState } from '../../functions/lib/workflow.ts';
import { bookinfoPreflight, bookinfoRequest } from '../support/requests.ts';

const iamMock = mockClient(IAMClient);
const stsMock = mockClient(STSClient);
const logsMock = mockClient(CloudWatchLogsClient);
const smMock = mockClient(SecretsManagerClient);
afterEach(() => {
  iamMock.reset();
  stsMock.reset();
  logsMock.reset();
  smMock.reset();
});

const ACCOUNT = '111122223333';
const preflight = bookinfoPreflight({ account: ACCOUNT, agentImage: 'registry.example/onboarding-agent:1' });
const state = (enableExecuteCommand = true): WorkflowState => ({ request: bookinfoRequest({ ecs: { enableExecuteCommand } }), preflight });
const ourTags = [
  { Key: 'mesh-onboarding/managed-by', Value: 'ecs-mesh-onboarding' },
  { Key: 'mesh-onboarding/workload', Value: 'bookinfo/ratings' },
];
const roleArn = `arn:aws:iam::${ACCOUNT}:role/mesh-onboarding/bookinfo.ratings-ecs-task-role`;

function awsError(name: string, message: string, httpStatusCode = 400): Error {
  return Object.assign(new Error(message), { name, $metadata: { httpStatusCode } });
}

describe('identity steps: errors the emulator cannot produce', () => {
  it('surfaces IAM throttling as AwsThrottledError from the wrapped handler', async () => {
    // Prepare
    iamMock.on(GetRoleCommand).rejects(awsError('Throttling', 'Rate exceeded'));
    // Act
    const err = await taskRoleHandler(state(), {} as Context).catch((e: unknown) => e);
    // Assess
    expect(err).toBeInstanceOf(AwsThrottledError);
    expect((err as Error).name).toBe('AwsThrottledError');
    expect(iamMock).not.toHaveReceivedCommand(CreateRoleCommand);
    expect(stsMock.calls()).toHaveLength(0);
  });

  it('surfaces "Invalid principal" right after a create as IamPropagationError', async () => {
    iamMock.on(GetRoleCommand).rejects(awsError('NoSuchEntity', 'The role with name bookinfo.ratings-ecs-exec-role cannot be found.', 404));
    iamMock.on(CreateRoleCommand).rejects(awsError('MalformedPolicyDocument', 'Invalid principal in policy: "SERVICE":"ecs-tasks.amazonaws.com"'));

    const err = await executionRoleHandler(state(), {} as Context).catch((e: unknown) => e);

    expect(err).toBeInstanceOf(IamPropagationError);
    expect((err as Error).message).toContain('bookinfo.ratings-ecs-exec-role');
  });

  it('surfaces a role that "cannot be assumed" as IamPropagationError', async () => {
    iamMock.on(GetRoleCommand).resolves({ Role: { RoleName: 'r', Arn: roleArn, Path: '/mesh-onboarding/', RoleId: 'AROA', CreateDate: new Date(), Tags: ourTags, AssumeRolePolicyDocument: encodeURIComponent(JSON.stringify(ecsTasksTrustPolicy(ACCOUNT))) } });
    iamMock.on(GetRolePolicyCommand).rejects(awsError('InvalidParameterException', `Role ${roleArn} cannot be assumed by ecs-tasks.amazonaws.com`));

    const err = await taskRoleHandler(state(), {} as Context).catch((e: unknown) => e);

    expect(err).toBeInstanceOf(IamPropagationError);
  });

  it('writes nothing when IAM returns the same documents URL-encoded', async () => {
    const execDoc = {
      Version: '2012-10-17',
      Statement: [{ Sid: 'EcsExecSsmMessages', Effect: 'Allow', Action: ['ssmmessages:CreateControlChannel', 'ssmmessages:CreateDataChannel', 'ssmmessages:OpenControlChannel', 'ssmmessages:OpenDataChannel'], Resource: '*' }],
    };
    // Same trust policy with its keys in another order and extra whitespace.
    const trust = JSON.stringify({ Statement: [{ Condition: { StringEquals: { 'aws:SourceAccount': ACCOUNT } }, Action: 'sts:AssumeRole', Principal: { Service: 'ecs-tasks.amazonaws.com' }, Effect: 'Allow' }], Version: '2012-10-17' }, null, 2);
    iamMock.on(GetRoleCommand).resolves({ Role: { RoleName: 'r', Arn: roleArn, Path: '/mesh-onboarding/', RoleId: 'AROA', CreateDate: new Date(), Tags: ourTags, AssumeRolePolicyDocument: encodeURIComponent(trust) } });
    iamMock.on(GetRolePolicyCommand).resolves({ RoleName: 'r', PolicyName: EXEC_POLICY_NAME, PolicyDocument: encodeURIComponent(JSON.stringify(execDoc)) });

    const r = await ensureTaskRole(state());

    expect(r.ledger.map((e) => e.created)).toEqual([false, false]);
    expect(iamMock).not.toHaveReceivedCommand(CreateRoleCommand);
    expect(iamMock).not.toHaveReceivedCommand(UpdateAssumeRolePolicyCommand);
    expect(iamMock).not.toHaveReceivedCommand(PutRolePolicyCommand);
    expect(iamMock).not.toHaveReceivedCommand(DeleteRolePolicyCommand);
  });

  it('refuses this workload\'s role at another path (an earlier version made it at /): the orchestrator may change only roles under /mesh-onboarding/', async () => {
    const atRoot = { RoleName: 'r', Arn: `arn:aws:iam::${ACCOUNT}:role/bookinfo.ratings-ecs-task-role`, Path: '/', RoleId: 'AROA', CreateDate: new Date(), Tags: ourTags };
    iamMock.on(GetRoleCommand).resolves({ Role: atRoot });

    const err = await taskRoleHandler(state(), {} as Context).catch((e: unknown) => e);

    expect(err).toBeInstanceOf(ResourceConflictError);
    expect((err as Error).message).toContain('lives at path / ');
    expect(iamMock).not.toHaveReceivedCommand(PutRolePolicyCommand);
    expect(iamMock).not.toHaveReceivedCommand(UpdateAssumeRolePolicyCommand);
  });

  it('treats a concurrent create (EntityAlreadyExists) as found, and checks the role it finds', async () => {
    const existing = { RoleName: 'r', Arn: roleArn, Path: '/mesh-onboarding/', RoleId: 'AROA', CreateDate: new Date(), Tags: ourTags, AssumeRolePolicyDocument: encodeURIComponent(JSON.stringify(ecsTasksTrustPolicy(ACCOUNT))) };
    iamMock
      .on(GetRoleCommand)
      .rejectsOnce(awsError('NoSuchEntity', 'not found', 404))
      .resolves({ Role: existing });
    iamMock.on(CreateRoleCommand).rejects(awsError('EntityAlreadyExists', 'Role with name bookinfo.ratings-ecs-task-role already exists.', 409));
    iamMock.on(DeleteRolePolicyCommand).rejects(awsError('NoSuchEntity', 'no such policy', 404));

    const r = await ensureTaskRole(state(false));

    expect(r).toEqual({ roleName: 'bookinfo.ratings-ecs-task-role', roleArn, ledger: [{ kind: 'iam-role', id: 'bookinfo.ratings-ecs-task-role', arn: roleArn, created: false }] });
    expect(iamMock).toHaveReceivedCommandTimes(GetRoleCommand, 2);
    expect(iamMock).toHaveReceivedCommandWith(DeleteRolePolicyCommand, { RoleName: 'bookinfo.ratings-ecs-task-role', PolicyName: EXEC_POLICY_NAME });
  });
});

// IAM is eventually consistent: a role CreateRole just returned can be NoSuchEntity to the next call
// (https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_general.html#troubleshoot_general_eventual-consistency).
// AWS's words for it: "The role with name <name> cannot be found." (moto never lags).
describe('identity steps: a role CreateRole just made is not visible yet (contract)', () => {
  const madeRole = (name: string) => ({ Role: { RoleName: name, Arn: `arn:aws:iam::${ACCOUNT}:role/mesh-onboarding/${name}`, Path: '/mesh-onboarding/', RoleId: 'AROA', CreateDate: new Date(), Tags: ourTags } });
  const notFound = (name: string) => awsError('NoSuchEntity', `The role with name ${name} cannot be found.`, 404);

  it('surfaces NoSuchEntity from PutRolePolicy right after CreateRole as IamPropagationError', async () => {
    // Prepare
    const name = 'bookinfo.ratings-ecs-task-role';
    iamMock.on(GetRoleCommand).rejects(notFound(name));
    iamMock.on(CreateRoleCommand).resolves(madeRole(name));
    iamMock.on(GetRolePolicyCommand).rejects(notFound(name));
    iamMock.on(PutRolePolicyCommand).rejects(notFound(name));

    // Act
    const err = await taskRoleHandler(state(true), {} as Context).catch((e: unknown) => e);

    // Assess
    expect(err).toBeInstanceOf(IamPropagationError);
    expect((err as Error).name).toBe('IamPropagationError');
    expect((err as Error).message).toContain(`PutRolePolicy ${name}/${EXEC_POLICY_NAME}`);
  });

  it('surfaces NoSuchEntity from ListAttachedRolePolicies or AttachRolePolicy right after CreateRole as IamPropagationError', async () => {
    const name = 'bookinfo.ratings-ecs-exec-role';
    iamMock.on(GetRoleCommand).rejects(notFound(name));
    iamMock.on(CreateRoleCommand).resolves(madeRole(name));
    iamMock.on(ListAttachedRolePoliciesCommand).rejectsOnce(notFound(name)).resolves({ AttachedPolicies: [] });
    iamMock.on(AttachRolePolicyCommand).rejects(notFound(name));

    const listing = await executionRoleHandler(state(), {} as Context).catch((e: unknown) => e);
    const attaching = await executionRoleHandler(state(), {} as Context).catch((e: unknown) => e);

    expect(listing).toBeInstanceOf(IamPropagationError);
    expect(attaching).toBeInstanceOf(IamPropagationError);
    expect((attaching as Error).message).toContain(`AttachRolePolicy ${name}`);
  });

  it('keeps a missing managed policy (NoSuchEntity naming the policy) terminal: retrying cannot create it', async () => {
    const name = 'bookinfo.ratings-ecs-exec-role';
    iamMock.on(GetRoleCommand).rejects(notFound(name));
    iamMock.on(CreateRoleCommand).resolves(madeRole(name));
    iamMock.on(ListAttachedRolePoliciesCommand).resolves({ AttachedPolicies: [] });
    iamMock.on(AttachRolePolicyCommand).rejects(awsError('NoSuchEntity', 'Policy arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy does not exist or is not attachable.', 404));

    const err = await executionRoleHandler(state(), {} as Context).catch((e: unknown) => e);

    expect(err).toBeInstanceOf(UnexpectedError);
  });
});

describe('log group and CA secret: read-after-write lag', () => {
  it('surfaces a log group not listed right after CreateLogGroup as ResourceNotReadyError', async () => {
    // Prepare
    logsMock.on(DescribeLogGroupsCommand).resolves({ logGroups: [] });
    logsMock.on(CreateLogGroupCommand).resolves({});

    // Act
    const err = await logGroupHandler(state(), {} as Context).catch((e: unknown) => e);

    // Assess
    expect(err).toBeInstanceOf(ResourceNotReadyError);
    expect((err as Error).message).toContain('/ecs/bookinfo_ratings');
    expect(logsMock).toHaveReceivedCommandTimes(CreateLogGroupCommand, 1);
    expect(logsMock).not.toHaveReceivedCommand(PutRetentionPolicyCommand);
  });

  it('surfaces ResourceExistsException then a DescribeSecret that still finds nothing as ResourceNotReadyError, without the PEM', async () => {
    // Prepare
    const pem = '-----BEGIN CERTIFICATE-----\nMIIBsecret\n-----END CERTIFICATE-----\n';
    smMock.on(DescribeSecretCommand).rejects(awsError('ResourceNotFoundException', "Secrets Manager can't find the specified secret."));
    smMock.on(CreateSecretCommand).rejects(awsError('ResourceExistsException', 'The operation failed because the secret mesh-onboarding/bookinfo/ratings/root-ca already exists.'));

    // Act
    const err = await caSecretHandler({ ...state(), caBundle: { pem } }, {} as Context).catch((e: unknown) => e);

    // Assess
    expect(err).toBeInstanceOf(ResourceNotReadyError);
    expect((err as Error).name).toBe('ResourceNotReadyError');
    expect((err as Error).message).toContain('mesh-onboarding/bookinfo/ratings/root-ca');
    expect((err as Error).message).not.toContain('BEGIN CERTIFICATE');
    expect(smMock).toHaveReceivedCommandTimes(DescribeSecretCommand, 2);
    expect(smMock).not.toHaveReceivedCommand(PutSecretValueCommand);
  });
});
