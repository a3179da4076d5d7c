#!/usr/bin/env node
// The mesh-onboard command: runs the TypeScript entry through tsx (no build step) on the Node 22 that npm ci installs.
if (Number(process.versions.node.split('.')[0]) !== 22) {
  console.error(`mesh-onboard needs Node.js 22 (the project's, in node_modules/.bin after npm ci); this is ${process.version}. Run it as: npx mesh-onboard ...`);
  process.exit(2);
}
const { register } = await import('tsx/esm/api');
register();
const { run, processIo } = await import('../cli/mesh-onboard.ts');
process.exitCode = await run(process.argv.slice(2), { io: processIo() });
