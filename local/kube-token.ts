/**
 * kubectl's credential plugin for the sandbox kubeconfig (`users[].user.exec`): prints an
 * ExecCredential holding a fresh EKS bearer token, as `aws eks get-token` does for a real EKS
 * kubeconfig. EKS tokens last 15 minutes, so a token written into the file would not.
 *
 *   node --import tsx local/kube-token.ts --cluster mesh-eks --region us-east-1
 *
 * Signs with AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (the kubeconfig sets the sandbox's).
 */
import { parseArgs } from 'node:util';
import { makeEksToken, TOKEN_REFRESH_AFTER_MS } from '../functions/lib/kube/eks-token.ts';

const { values } = parseArgs({ options: { cluster: { type: 'string' }, region: { type: 'string', default: 'us-east-1' } }, strict: true });
if (!values.cluster) {
  console.error('usage: kube-token.ts --cluster NAME [--region REGION]');
  process.exit(2);
}
const signingDate = new Date();
const token = await makeEksToken({
  clusterName: values.cluster,
  region: values.region,
  credentials: { accessKeyId: process.env.AWS_ACCESS_KEY_ID ?? 'testing', secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY ?? 'testing' },
  signingDate,
});
// kubectl reuses the token until this time (like aws eks get-token, before the 15 minutes are up).
const expirationTimestamp = new Date(signingDate.getTime() + TOKEN_REFRESH_AFTER_MS).toISOString().replace(/\.\d{3}Z$/, 'Z');
console.log(JSON.stringify({ kind: 'ExecCredential', apiVersion: 'client.authentication.k8s.io/v1', spec: {}, status: { expirationTimestamp, token } }));
