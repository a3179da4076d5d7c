/**
 * The kubeconfig with which `kubectl` talks to the sandbox's Kubernetes API stand-in: its
 * HTTPS endpoint and self-signed CA (kubectl sends credentials only over TLS), and an exec
 * credential plugin (local/kube-token.ts) that makes a fresh EKS bearer token for each kubectl
 * run, as `aws eks get-token` does in a kubeconfig written by `aws eks update-kubeconfig`.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export interface SandboxKubeconfig {
  /** The stand-in's HTTPS URL. */
  server: string;
  /** PEM of the CA that signed the stand-in's certificate. */
  caPem: string;
  /** The EKS cluster the token is made for. */
  clusterName: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
}

/** The kubeconfig as YAML: one cluster, one user (exec plugin), one context, all named `mesh-sandbox`. */
export function kubeconfigYaml(k: SandboxKubeconfig): string {
  // Absolute paths: kubectl runs the plugin from wherever it is run. tsx's loader lets node run the .ts file.
  const tsxLoader = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
  const tokenScript = fileURLToPath(new URL('./kube-token.ts', import.meta.url));
  const q = (s: string) => JSON.stringify(s);
  return `apiVersion: v1
kind: Config
clusters:
- name: mesh-sandbox
  cluster:
    server: ${q(k.server)}
    certificate-authority-data: ${Buffer.from(k.caPem).toString('base64')}
users:
- name: mesh-sandbox
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1
      command: ${q(process.execPath)}
      args: [${['--import', tsxLoader, tokenScript, '--cluster', k.clusterName, '--region', k.region].map(q).join(', ')}]
      env:
      - {name: AWS_ACCESS_KEY_ID, value: ${q(k.accessKeyId)}}
      - {name: AWS_SECRET_ACCESS_KEY, value: ${q(k.secretAccessKey)}}
      interactiveMode: Never
contexts:
- name: mesh-sandbox
  context:
    cluster: mesh-sandbox
    user: mesh-sandbox
current-context: mesh-sandbox
`;
}

/** Writes the kubeconfig to `path` (creating its directory), readable by its owner only. */
export function writeKubeconfig(path: string, k: SandboxKubeconfig): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, kubeconfigYaml(k), { mode: 0o600 });
}
