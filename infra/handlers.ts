/**
 * Which handler files the deployment runs, derived from the ASL files (each Task state names
 * its handler: statemachine/definition.ts) plus the API's entry and the end-of-execution
 * handler. Never a hand-written list of steps.
 */
import { loadDefinition, MACHINE_NAMES, taskSteps, type MachineName } from '../statemachine/definition.ts';

/** The API's handler file (under functions/). */
export const API_HANDLER_FILE = 'api/onboardings';

/** The EventBridge target that repairs the registry after a run that ended without its last state (not a Task state). */
export const EXECUTION_ENDED_FILE = 'execution-ended';

/** The Task steps of a machine: state, handler file, placeholder. */
export function machineSteps(machine: MachineName): ReturnType<typeof taskSteps> {
  return taskSteps(loadDefinition(machine));
}

/** Every handler file to deploy: each Task of each machine, then the API and the end-of-execution handler. */
export function handlerFiles(): string[] {
  return [...new Set([...MACHINE_NAMES.flatMap((m) => machineSteps(m).map((s) => s.file)), API_HANDLER_FILE, EXECUTION_ENDED_FILE])];
}
