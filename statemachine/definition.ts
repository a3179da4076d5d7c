/**
 * Reads the one ASL file (generated from onboard-workload.ts by `npm run workflow`) and maps
 * its Task states to step handlers. The mapping is a
 * naming rule, not a table, so a new state cannot silently lack a handler:
 * state "Check NAT gateway" ↔ functions/check-nat-gateway.ts ↔ placeholder ${CheckNatGatewayFunctionArn}.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * The state machines, by name: `statemachine/<name>.ts` describes each, `npm run workflow`
 * writes `statemachine/<name>.asl.json`, which CDK deploys and the local engine runs.
 */
export const MACHINE_NAMES = ['onboard-workload', 'reverify-workloads', 'offboard-workload'] as const;
export type MachineName = (typeof MACHINE_NAMES)[number];

/** The committed ASL file of a machine. */
export function aslPath(machine: MachineName = 'onboard-workload'): string {
  return fileURLToPath(new URL(`./${machine}.asl.json`, import.meta.url));
}
/** The onboarding machine's file (most callers mean this one). */
export const ASL_PATH = aslPath('onboard-workload');
export const FUNCTIONS_DIR = fileURLToPath(new URL('../functions/', import.meta.url));

/** One Retry entry; the builder always sets every field AWS would otherwise default. */
export interface Retrier {
  ErrorEquals: string[];
  IntervalSeconds: number;
  MaxAttempts: number;
  BackoffRate: number;
  MaxDelaySeconds?: number;
  JitterStrategy?: 'FULL' | 'NONE';
}
export interface Catcher {
  ErrorEquals: string[];
  ResultPath?: string;
  Next: string;
}
export interface AslState {
  Type: string;
  Resource?: string;
  Next?: string;
  End?: boolean;
  TimeoutSeconds?: number;
  Retry?: Retrier[];
  Catch?: Catcher[];
  Branches?: AslMachine[];
  [key: string]: unknown;
}
export interface AslMachine {
  StartAt: string;
  States: Record<string, AslState>;
  [key: string]: unknown;
}

export function loadDefinition(machine: MachineName = 'onboard-workload'): AslMachine {
  return JSON.parse(readFileSync(aslPath(machine), 'utf8')) as AslMachine;
}

/** Every state of the machine, Parallel branches and Map item processors included, as [name, state]. */
export function allStates(machine: AslMachine): [string, AslState][] {
  return Object.entries(machine.States).flatMap(([name, s]) => {
    const nested = [...(s.Branches ?? []), ...(s.ItemProcessor ? [s.ItemProcessor as AslMachine] : []), ...(s.Iterator ? [s.Iterator as AslMachine] : [])];
    return [[name, s] as [string, AslState], ...nested.flatMap(allStates)];
  });
}

/** The step file (without extension) of a Task state: "Pre-flight mesh" → "preflight-mesh". */
export function stepFileOf(stateName: string): string {
  return stateName.toLowerCase().replace(/-/g, '').replace(/\s+/g, '-');
}

/** The `${...}` placeholder CDK fills with the step's Lambda ARN. */
export function placeholderOf(stateName: string): string {
  const pascal = stepFileOf(stateName)
    .split('-')
    .map((w) => w.charAt(0).toUpperCase() + w.slice(1))
    .join('');
  return `${pascal}FunctionArn`;
}

/** The Task states with their handler files and placeholders. */
export function taskSteps(machine: AslMachine = loadDefinition()): { state: string; file: string; placeholder: string; resource: string }[] {
  return allStates(machine)
    .filter(([, s]) => s.Type === 'Task')
    .map(([state, s]) => ({ state, file: stepFileOf(state), placeholder: placeholderOf(state), resource: String(s.Resource) }));
}

/** The definition text with each `${Placeholder}` replaced (what CDK's definitionSubstitutions do). */
export function substitute(text: string, values: Record<string, string>): string {
  return text.replace(/\$\{([A-Za-z0-9]+)\}/g, (m, key: string) => values[key] ?? m);
}
