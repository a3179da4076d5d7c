/** Reading ECS task descriptions: the pieces the readiness check and the re-verification share. */
import type { Task } from '@aws-sdk/client-ecs';

/** The task id: the last segment of its ARN. */
export function taskIdOf(arn: string | undefined): string {
  return (arn ?? '').split('/').pop() ?? '';
}

/** The task's private IPv4 address (its ENI attachment, else a container's network interface). */
export function privateIpOf(t: Task): string | undefined {
  const eni = t.attachments?.find((a) => a.type === 'ElasticNetworkInterface');
  return eni?.details?.find((d) => d.name === 'privateIPv4Address')?.value ?? t.containers?.flatMap((c) => c.networkInterfaces ?? []).find((n) => n.privateIpv4Address)?.privateIpv4Address;
}

/** The subnet of the task's network interface (awsvpc). */
export function subnetIdOf(t: Task): string | undefined {
  return t.attachments?.find((a) => a.type === 'ElasticNetworkInterface')?.details?.find((d) => d.name === 'subnetId')?.value;
}

/** One line per stopped task: why it stopped and how each container ended. */
export function describeStoppedTask(t: Task): string {
  const containers = (t.containers ?? []).map((c) => `${c.name ?? '?'} exit ${c.exitCode ?? 'none'}${c.reason ? ` (${c.reason})` : ''}`).join(', ');
  return `task ${taskIdOf(t.taskArn) || '?'} stopped [${t.stopCode ?? 'no stop code'}]: ${t.stoppedReason ?? 'no reason given'}; containers: ${containers || 'none reported'}`;
}
