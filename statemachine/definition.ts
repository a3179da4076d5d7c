/**
 * Reads the one ASL file (generated from onboard-workload.ts by `npm run workflow`) and maps
 * its Task states to step handlers. The mapping is a
 * naming rule, not a table, so a new state cannot silently lack a handler:
 * state "Check NAT gateway" ↔ functions/check-nat-gateway.ts ↔ placeholder ${CheckNatGatewayFunctionArn}.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const ASL_PATH = fileURLToPath(new URL('./onboard-workload.asl.json', import.meta.url));
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

export function loadDefinition(): AslMachine {
  return JSON.parse(readFileSync(ASL_PATH, 'utf8')) as AslMachine;
}

/** Every state of the machine, branches included, as [name, state]. */
export function allStates(machine: AslMachine): [string, AslState][] {
  return Object.entries(machine.States).flatMap(([name, s]) => [[name, s] as [string, AslState], ...(s.Branches ?? []).flatMap(allStates)]);
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
