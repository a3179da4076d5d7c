import { describe, expect, it } from 'vitest';
import { classifyError } from '../../functions/lib/errors.ts';

const aws = (name: string, message: string, httpStatusCode = 400) => Object.assign(new Error(message), { name, $metadata: { httpStatusCode } });

describe('classifyError: AWS errors → the ASL vocabulary', () => {
  it.each([
    ['ThrottlingException', 'Rate exceeded', 'AwsThrottledError'],
    ['RequestLimitExceeded', 'Request limit exceeded.', 'AwsThrottledError'],
    ['AccessDeniedException', 'User: arn:aws:sts::1:assumed-role/x is not authorized to perform: iam:PassRole on resource: arn:aws:iam::1:role/r', 'IamPropagationError'],
    ['ClientException', 'Role is not valid', 'IamPropagationError'],
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

  it('treats AWS 5xx as transient and keeps typed errors as they are', () => {
    expect(classifyError(aws('InternalFailure', 'oops', 503)).name).toBe('AwsTransientError');
    const typed = classifyError(aws('ThrottlingException', 'x'));
    expect(classifyError(typed)).toBe(typed);
    expect(classifyError('a string').name).toBe('UnexpectedError');
  });
});
