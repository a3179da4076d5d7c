import { describe, expect, it } from 'vitest';
import { classifyError } from '../../functions/lib/errors.ts';

const aws = (name: string, message: string, httpStatusCode = 400) => Object.assign(new Error(message), { name, $metadata: { httpStatusCode } });

describe('classifyError: AWS errors → the ASL vocabulary', () => {
  it.each([
    ['ThrottlingException', 'Rate exceeded', 'AwsThrottledError'],
    ['RequestLimitExceeded', 'Request limit exceeded.', 'AwsThrottledError'],
    ['AccessDeniedException', 'User: arn:aws:sts::1:assumed-role/x is not authorized to perform: iam:PassRole on resource: arn:aws:iam::1:role/r', 'AwsAccessDeniedError'],
    ['ClientException', 'Role is not valid', 'IamPropagationError'],
    ['InvalidParameterException', 'Role arn:aws:iam::1:role/r cannot be assumed by ecs-tasks.amazonaws.com', 'IamPropagationError'],
    ['InvalidParameterException', 'Unable to assume the service linked role. Please verify that the ECS service linked role exists.', 'IamPropagationError'],
    ['InvalidParameterException', 'ECS was unable to assume the role arn:aws:iam::1:role/r that was provided for this task.', 'IamPropagationError'],
    ['AccessDeniedException', 'User is not authorized to perform: ecs:CreateCluster', 'AwsAccessDeniedError'],
    ['UnauthorizedOperation', 'You are not authorized to perform this operation.', 'AwsAccessDeniedError'],
    ['AddressLimitExceeded', 'The maximum number of addresses has been reached.', 'QuotaExceededError'],
    ['InvalidGroup.NotFound', "The security group 'sg-1' does not exist", 'ResourceNotReadyError'],
    ['InvalidSubnet.Conflict', 'The CIDR 10.0.2.0/24 conflicts with another subnet', 'ResourceNotReadyError'],
    ['ConcurrentModificationException', 'Concurrent modification', 'ResourceNotReadyError'],
    ['InvalidRequestException', 'You can not create this secret because a secret with this name is already scheduled for deletion.', 'ResourceNotReadyError'],
    ['ValidationException', 'bad value', 'UnexpectedError'],
  ])('%s (%s) → %s', (name, message, expected) => {
    const typed = classifyError(aws(name, message));
    expect(typed.name).toBe(expected);
    expect(typed.message).toContain(message);
  });

  // AWS's access-denied format: "User: <caller> is not authorized to perform: <action> on resource: <arn> because no <type> policy allows the <action> action"
  // (https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_access-denied.html). A missing iam:PassRole on the
  // orchestrator's own role recurs until someone grants it: terminal, with the grant in the message.
  it.each([
    ['RegisterTaskDefinition', 'User: arn:aws:sts::111122223333:assumed-role/mesh-onboarding-orchestrator/register-task-definition is not authorized to perform: iam:PassRole on resource: arn:aws:iam::111122223333:role/bookinfo.ratings-ecs-task-role because no identity-based policy allows the iam:PassRole action'],
    ['CreateService', 'User: arn:aws:sts::111122223333:assumed-role/mesh-onboarding-orchestrator/ensure-service is not authorized to perform: iam:PassRole on resource: arn:aws:iam::111122223333:role/bookinfo.ratings-ecs-task-role'],
  ])('classifies a missing iam:PassRole (%s) as AwsAccessDeniedError naming the grant', (_call, message) => {
    const typed = classifyError(aws('AccessDeniedException', message));

    expect(typed.name).toBe('AwsAccessDeniedError');
    expect(typed.retryable).toBe(false);
    expect(typed.message).toContain(message);
    expect(typed.message).toContain(`grant the orchestrator's role "mesh-onboarding-orchestrator" iam:PassRole on arn:aws:iam::111122223333:role/bookinfo.ratings-ecs-task-role`);
    expect(typed.message).toContain('iam:PassedToService = ecs-tasks.amazonaws.com');
  });

  it('still treats the genuine propagation symptoms of a new role as IamPropagationError', () => {
    // ECS RegisterTaskDefinition right after CreateRole; a task whose role is not assumable yet (service event / stoppedReason).
    for (const [name, message] of [
      ['ClientException', 'Role is not valid'],
      ['InvalidParameterException', 'ECS was unable to assume the role arn:aws:iam::111122223333:role/bookinfo.ratings-ecs-exec-role that was provided for this task. Please verify that the role being passed has the proper trust relationship and permissions and that your IAM user has permissions to pass this role.'],
    ] as const) {
      expect(classifyError(aws(name, message)).name).toBe('IamPropagationError');
    }
  });

  it('treats AWS 5xx as transient and keeps typed errors as they are', () => {
    expect(classifyError(aws('InternalFailure', 'oops', 503)).name).toBe('AwsTransientError');
    const typed = classifyError(aws('ThrottlingException', 'x'));
    expect(classifyError(typed)).toBe(typed);
    expect(classifyError('a string').name).toBe('UnexpectedError');
  });
});

describe('a route to a NAT gateway EC2 does not know yet (issue 11: Ensure task subnet runs during the NAT gateway\'s wait)', () => {
  /**
   * Ensure task subnet now points its 0.0.0.0/0 route at a NAT gateway made seconds earlier
   * (`pending`). EC2 accepts a route to a pending NAT gateway, but right after CreateNatGateway
   * it may not know the id yet and answers CreateRoute with InvalidNatGatewayID.NotFound
   * ("The specified NAT gateway does not exist", https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html;
   * seen right after creation in https://github.com/boto/boto3/issues/779): the step must fail
   * retryably, so the state machine's Retry runs it again, rather than end the run.
   */
  it('is a retryable ResourceNotReadyError, which the workflow retries', async () => {
    const { RETRY_POLICY } = await import('../../statemachine/onboard-workload.ts');
    const aws = Object.assign(new Error("The natGateway ID 'nat-0a1b2c3d4e5f60718' does not exist"), { name: 'InvalidNatGatewayID.NotFound', $metadata: { httpStatusCode: 400 } });
    const typed = classifyError(aws);
    expect(typed).toMatchObject({ name: 'ResourceNotReadyError', retryable: true });
    expect(typed.message).toContain('nat-0a1b2c3d4e5f60718');
    expect(RETRY_POLICY.some((r) => r.ErrorEquals.includes(typed.name))).toBe(true);
  });
});
