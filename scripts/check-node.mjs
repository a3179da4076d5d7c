// npm scripts must run on the Node 22 that `npm ci` installs (the `node` devDependency),
// not on the machine's Node 20: the Lambda runtime is nodejs22.x and aws-local-stepfunctions needs 22.
const major = Number(process.versions.node.split('.')[0]);
if (major !== 22) {
  console.error(`These scripts need Node.js 22 (the Lambda runtime); this is ${process.version}. Run them through npm (npm test, npm start) after npm ci, which installs Node 22 into node_modules/.bin.`);
  process.exit(1);
}
