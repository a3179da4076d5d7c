/** docs/deploy.md stays true to the code it describes: the EKS text, the context keys, the outputs. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { accessEntryCommand, rbacYaml } from '../../functions/lib/kube/rbac.ts';
import { CONTEXT_KEYS } from '../../infra/stack.ts';

const doc = readFileSync(new URL('../../docs/deploy.md', import.meta.url), 'utf8');

describe('docs/deploy.md', () => {
  it('prints the access entry and the RBAC as functions/lib/kube/rbac.ts makes them', () => {
    expect(doc).toContain(accessEntryCommand('<eks-cluster>', '<MeshReaderRoleArn>'));
    expect(doc).toContain(rbacYaml('bookinfo'));
  });

  it('documents every context key the stack reads, and every output', () => {
    for (const key of [...CONTEXT_KEYS, 'stackName']) expect(doc, key).toContain(`\`${key}\``);
    for (const output of ['ApiUrl', 'OnboardStateMachineArn', 'ReverifyStateMachineArn', 'RegistryTableName', 'MeshReaderRoleArn']) expect(doc, output).toContain(output);
  });

  it('signs API requests with curl --aws-sigv4 for execute-api, session token included', () => {
    expect(doc).toContain('--aws-sigv4 "aws:amz:<region>:execute-api" --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY"');
    expect(doc).toContain('x-amz-security-token: $AWS_SESSION_TOKEN');
  });
});
