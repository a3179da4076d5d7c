#!/usr/bin/env node
// The mesh-onboard command: runs the TypeScript entry through tsx (no build step), with the project's Node 22.
import { register } from 'tsx/esm/api';

register();
const { run, processIo } = await import('../cli/mesh-onboard.ts');
process.exitCode = await run(process.argv.slice(2), { io: processIo() });
