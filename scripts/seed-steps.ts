/**
 * The manual procedure this tool replaces (the seed: a mesh vendor's quickstart page for
 * onboarding an ECS task), step by step, mapped to the workflow states that do the same.
 * `npm run docs` renders it as docs/seed-vs-tool.md; a test checks every state cited here
 * exists in its machine's ASL file, so renaming a state makes this table fail, not rot.
 */
import type { MachineName } from '../statemachine/definition.ts';

/** A state of one of the machines, by name. */
export interface StateRef {
  machine: MachineName;
  state: string;
}

export interface SeedStep {
  /** The seed's step, summarised. */
  seed: string;
  /** How the tool does it differently, in a line. */
  tool: string;
  states: StateRef[];
}

export interface Addition {
  what: string;
  detail: string;
  states: StateRef[];
}

const on = (...states: string[]): StateRef[] => states.map((state) => ({ machine: 'onboard-workload', state }));
const off = (...states: string[]): StateRef[] => states.map((state) => ({ machine: 'offboard-workload', state }));
const re = (...states: string[]): StateRef[] => states.map((state) => ({ machine: 'reverify-workloads', state }));

export const SEED_STEPS: SeedStep[] = [
  {
    seed: 'Before the page: the mesh operator prepares the mesh: the application namespace with sidecar injection, workload onboarding enabled on the control plane, a WorkloadGroup, a Sidecar resource and an OnboardingPolicy that admits the AWS account.',
    tool: 'Checked, never created: the namespace, the WorkloadGroup and an OnboardingPolicy that admits this account, region, cluster and task role are read through the cluster\'s Kubernetes API; each gap fails the run with ready-to-apply YAML, before anything is made in AWS.',
    states: on('Pre-flight mesh'),
  },
  {
    seed: '1. Create an ECS cluster that can run Fargate tasks.',
    tool: 'Found by name or made, with the Fargate capacity provider; shared by every workload that names it.',
    states: on('Ensure cluster'),
  },
  {
    seed: '2. Create the task role, trusted by ECS tasks (it is the workload\'s identity in the mesh); add the ECS Exec permissions if a shell into the task is wanted.',
    tool: 'One role per workload, trusted for this account only; the ECS Exec permissions only when the request asks for them, and removed when it stops asking.',
    states: on('Ensure task role'),
  },
  {
    seed: '3. Create the task execution role with the managed execution policy.',
    tool: 'The same managed policy, plus read access to this workload\'s CA secret and nothing else.',
    states: on('Ensure execution role'),
  },
  {
    seed: '4. Register a task definition: awsvpc networking on Fargate, the onboarding agent beside the application container, the agent image derived from the control plane\'s operator image, its configuration and the CA certificate as environment variables.',
    tool: 'The agent image is read from the cluster by the pre-flight; the CA goes to Secrets Manager and the task definition pins its version; a new revision only when the content changes.',
    states: on('Pre-flight mesh', 'Ensure CA secret', 'Register task definition'),
  },
  {
    seed: '5. Create the log group both containers write to.',
    tool: 'Made with a retention period (30 days unless asked otherwise), tagged as this workload\'s.',
    states: on('Ensure log group'),
  },
  {
    seed: '6a. Find the VPC of the EKS cluster and pick free address blocks by hand.',
    tool: 'The VPC from the cluster name or the VPC id; every check of the network (blocks inside the VPC and free, zones, internet gateway, routes of given subnets) runs before the first change, and free /24 blocks are chosen automatically.',
    states: on('Resolve network'),
  },
  {
    seed: '6b. If the VPC has no NAT gateway: a public subnet, a route table to the internet gateway, an Elastic IP, the NAT gateway.',
    tool: 'An existing usable NAT gateway is reused; otherwise the four are made, each found by tag first, under a per-VPC lease so concurrent onboardings make one; the run waits until it is available.',
    states: on('Ensure NAT gateway', 'Check NAT gateway'),
  },
  {
    seed: '6c. Create the private task subnet and its route table with a default route to the NAT gateway.',
    tool: 'Given subnets are checked; otherwise one subnet per zone (two by default) shared by the ECS cluster\'s workloads, routed through the NAT gateway.',
    states: on('Ensure task subnet'),
  },
  {
    seed: '7. Create a security group admitting the application port (the page opens it to the whole internet).',
    tool: 'The application port only from the VPC (or the sources asked for); and the EKS cluster\'s group admits the port from the task group, without which calls from the task into the cluster get HTTP 503.',
    states: on('Ensure security group'),
  },
  {
    seed: '8. Create the ECS service: one Fargate task, in the new subnet and group, with ECS Exec on.',
    tool: 'Made or updated only where it differs, never a second one; a deployment circuit breaker; the run waits until the tasks run, and fails with the stop reason and exit codes when one stops.',
    states: on('Ensure service', 'Check service readiness'),
  },
  {
    seed: 'Check by hand that the mesh lists an auto-registration per task with the agent connected.',
    tool: 'Waited for and checked per task (its registration, the agent\'s connected condition and address), with a deadline.',
    states: on('Verify workload'),
  },
  {
    seed: 'Send load through the application and read the agent\'s access log; curl from a shell in the task into the cluster.',
    tool: 'The agent\'s access-log lines are counted, inbound and outbound, by status class; no traffic is reported as a finding, not a failure.',
    states: on('Traffic evidence'),
  },
];

export const ADDITIONS: Addition[] = [
  {
    what: 'Validation at the edge',
    detail: 'One schema checks the request and lists every problem with its path before anything is touched.',
    states: on('Validate request'),
  },
  {
    what: 'Feasibility before mutation',
    detail: 'Every check of the network against the account runs with reads only: a request that cannot succeed fails with nothing made.',
    states: on('Resolve network'),
  },
  {
    what: 'One run per workload',
    detail: 'A lock in the workload\'s registry record, taken by the first state and freed by the last, so an onboarding and a teardown of one workload never overlap.',
    states: [...on('Validate request', 'Record result', 'Record failure'), ...off('Start teardown', 'Finish teardown', 'Record teardown failure')],
  },
  {
    what: 'Idempotency and tags',
    detail: 'Every step looks up by deterministic name and this tool\'s tags before it creates, and refuses a same-named resource it does not own; a run interrupted anywhere and started again converges with no duplicate.',
    states: on('Ensure cluster', 'Ensure task role', 'Ensure NAT gateway', 'Ensure task subnet', 'Ensure service'),
  },
  {
    what: 'Bounded waits',
    detail: 'Wait and check loops for the NAT gateway, the service and the mesh registration, shaped by when each is typically ready (a first wait, short polls, then growing intervals) and bounded by a deadline (configurable per wait); what needs no NAT gateway is made during its wait.',
    states: on('First wait for NAT gateway', 'Wait for NAT gateway', 'First wait for service', 'Wait for service', 'First wait for mesh registration', 'Wait for mesh registration'),
  },
  {
    what: 'A record of every run',
    detail: 'What the run made or reused (the ledger), or the failed step, its error and what was made before it, written to the registry.',
    states: on('Record result', 'Record failure'),
  },
  {
    what: 'Teardown',
    detail: 'Removes what onboarding made, found from the ledger and the tags; shared network and cluster only when no other workload uses them.',
    states: off('Scale service down', 'Delete service', 'Delete workload resources', 'Delete shared resources', 'Finish teardown'),
  },
  {
    what: 'Re-verification',
    detail: 'A scheduled read-only check of every onboarded workload that reports drift (service gone, tasks missing, agent disconnected) as an event and a metric.',
    states: re('List workloads', 'Reverify each workload', 'Reverify workload'),
  },
  {
    what: 'Least privilege and secure defaults',
    detail: 'Each step\'s function gets only the permissions its calls need; no port open to the internet, no public IP, the CA out of the environment and out of every state after the one that stores it.',
    states: on('Ensure security group', 'Ensure CA secret'),
  },
];
