/**
 * Writes statemachine/<machine>.asl.json from each workflow description in
 * statemachine/<machine>.ts (the one source). `npm run workflow` regenerates it; a
 * test fails when the committed file is out of date.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { aslPath, type MachineName } from '../statemachine/definition.ts';
import { renderWorkflow } from '../statemachine/onboard-workload.ts';
import { renderReverifyWorkloads } from '../statemachine/reverify-workloads.ts';
import { renderOffboardWorkload } from '../statemachine/offboard-workload.ts';

/** Each machine's renderer: the one source of its ASL file. */
export const RENDERERS: Record<MachineName, () => string> = {
  'onboard-workload': renderWorkflow,
  'reverify-workloads': renderReverifyWorkloads,
  'offboard-workload': renderOffboardWorkload,
};

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  for (const [machine, render] of Object.entries(RENDERERS)) {
    writeFileSync(aslPath(machine as MachineName), render());
    console.log(`wrote ${aslPath(machine as MachineName)}`);
  }
}
