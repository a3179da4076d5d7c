/**
 * Writes statemachine/onboard-workload.asl.json from the workflow description in
 * statemachine/onboard-workload.ts (the one source). `npm run workflow` regenerates it; a
 * test fails when the committed file is out of date.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ASL_PATH } from '../statemachine/definition.ts';
import { renderWorkflow } from '../statemachine/onboard-workload.ts';

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  writeFileSync(ASL_PATH, renderWorkflow());
  console.log(`wrote ${ASL_PATH}`);
}
