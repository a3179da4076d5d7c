/**
 * AWS SDK v3 clients, one per service, made once per process with the project's retry
 * settings. They are built on first use (not at import) so the local sandbox and the
 * emulator tests can point `AWS_ENDPOINT_URL` at moto_server before any call is made;
 * on Lambda the first use happens during the first invocation and is then reused.
 *
 * Each client is its own module under clients/ (the shared settings, recorders and fault hooks
 * in clients/core.ts), re-exported here: a handler's bundle then holds only the SDK clients it
 * calls, not all eleven (issue 11: bench/bundles.ts, test/unit/bundles.test.ts).
 */
export { onCommand, resetClients, setFaultInjector, type CommandRecorder, type FaultInjector, type SentCommand } from './clients/core.ts';
export { cloudwatch } from './clients/cloudwatch.ts';
export { documents, dynamodb } from './clients/dynamodb.ts';
export { ec2 } from './clients/ec2.ts';
export { ecs } from './clients/ecs.ts';
export { eks } from './clients/eks.ts';
export { events } from './clients/events.ts';
export { iam } from './clients/iam.ts';
export { logs } from './clients/logs.ts';
export { secrets } from './clients/secrets.ts';
export { sfn } from './clients/sfn.ts';
export { sts } from './clients/sts.ts';
