/**
 * The `Table`s `kubectl get` asks the Kubernetes stand-in for (`Accept: application/json;as=Table;
 * v=v1;g=meta.k8s.io`), with the columns a real cluster prints per kind.
 */
import { WAR_CONNECTED_CONDITION, WAR_KIND } from '../functions/lib/mesh-facts.ts';
import type { KubeObject } from './kube-api-standin.ts';
import { isObject } from './kube-patch.ts';

type Obj = KubeObject & Record<string, unknown>;

/** `metav1.Duration`-like ages as kubectl prints them (`45s`, `3m12s`, `5h`, `2d`). */
export function humanAge(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  const m = Math.floor(s / 60);
  const h = Math.floor(m / 60);
  const d = Math.floor(h / 24);
  if (s < 120) return `${s}s`;
  if (m < 10) return s % 60 === 0 ? `${m}m` : `${m}m${s % 60}s`;
  if (m < 180) return `${m}m`;
  if (h < 8) return m % 60 === 0 ? `${h}h` : `${h}h${m % 60}m`;
  if (h < 48) return `${h}h`;
  if (h < 192) return h % 24 === 0 ? `${d}d` : `${d}d${h % 24}h`;
  return `${d}d`;
}

interface Column {
  name: string;
  type: string;
  format?: string;
  description: string;
  cell: (o: Obj, now: number) => string | number;
}

const NAME_COLUMN: Column = { name: 'Name', type: 'string', format: 'name', description: 'Name must be unique within a namespace.', cell: (o) => o.metadata.name };
const AGE_COLUMN: Column = {
  name: 'Age',
  type: 'string',
  description: 'CreationTimestamp is a timestamp representing the server time when this object was created.',
  cell: (o, now) => humanAge(now - Date.parse(o.metadata.creationTimestamp ?? new Date(now).toISOString())),
};
const at = (o: Obj, ...path: string[]): unknown => path.reduce<unknown>((v, k) => (isObject(v) ? v[k] : undefined), o);

/** The columns `kubectl get` shows per kind (the server-side printing of a real cluster / the CRDs' printer columns). */
function columnsOf(kind: string): Column[] {
  switch (kind) {
    case 'Namespace':
      return [NAME_COLUMN, { name: 'Status', type: 'string', description: 'The status of the namespace', cell: (o) => String(at(o, 'status', 'phase') ?? '') }, AGE_COLUMN];
    case 'Deployment':
      return [
        NAME_COLUMN,
        { name: 'Ready', type: 'string', description: 'Number of the pod with ready state', cell: (o) => `${Number(at(o, 'status', 'readyReplicas') ?? 0)}/${Number(at(o, 'spec', 'replicas') ?? 1)}` },
        { name: 'Up-to-date', type: 'integer', description: 'Total number of non-terminated pods targeted by this deployment that have the desired template spec.', cell: (o) => Number(at(o, 'status', 'updatedReplicas') ?? 0) },
        { name: 'Available', type: 'integer', description: 'Total number of available pods (ready for at least minReadySeconds) targeted by this deployment.', cell: (o) => Number(at(o, 'status', 'availableReplicas') ?? 0) },
        AGE_COLUMN,
      ];
    case WAR_KIND:
      return [
        NAME_COLUMN,
        {
          name: 'Agent Connected',
          type: 'string',
          description: `Status of the ${WAR_CONNECTED_CONDITION} condition`,
          cell: (o) => {
            const conditions = at(o, 'status', 'conditions');
            const c = Array.isArray(conditions) ? (conditions as { type?: string; status?: string }[]).find((x) => x.type === WAR_CONNECTED_CONDITION) : undefined;
            return c?.status ?? 'Unknown';
          },
        },
        AGE_COLUMN,
      ];
    default:
      return [NAME_COLUMN, AGE_COLUMN];
  }
}

/** The `Table` kubectl asks for (`Accept: application/json;as=Table;v=v1;g=meta.k8s.io`). */
export function table(objects: Obj[], kind: string, tableVersion: string, includeObject: string, listMeta: Record<string, unknown>) {
  const columns = columnsOf(kind);
  const now = Date.now();
  return {
    kind: 'Table',
    apiVersion: `meta.k8s.io/${tableVersion}`,
    metadata: listMeta,
    columnDefinitions: columns.map(({ name, type, format, description }) => ({ name, type, format: format ?? '', description, priority: 0 })),
    rows: objects.map((o) => ({
      cells: columns.map((c) => c.cell(o, now)),
      ...(includeObject === 'None' ? {} : { object: includeObject === 'Object' ? o : { kind: 'PartialObjectMetadata', apiVersion: `meta.k8s.io/${tableVersion}`, metadata: o.metadata } }),
    })),
  };
}

/** The Table version asked for in an Accept header, if a Table is asked for. */
export function tableVersionAsked(accept: string | undefined): string | undefined {
  for (const clause of (accept ?? '').split(',')) {
    const params = clause.split(';').map((p) => p.trim());
    if (params.includes('as=Table') && params.includes('g=meta.k8s.io')) return params.find((p) => p.startsWith('v='))?.slice(2) ?? 'v1';
  }
  return undefined;
}
