/**
 * The patch formats the Kubernetes stand-in applies (local/kube-api-standin.ts): RFC 7386 JSON
 * merge patch, RFC 6902 JSON patch, and the directives a strategic merge patch may carry.
 */

/** A JSON value as a request body holds it. */
export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

export const isObject = (v: unknown): v is Record<string, Json> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A patch that cannot be applied: 400 (malformed) or 422 (does not fit the object), as the API server answers. */
export class PatchError extends Error {
  override readonly name = 'PatchError';
  constructor(
    readonly code: 400 | 422,
    message: string,
  ) {
    super(message);
  }
}

/** RFC 7386 JSON merge patch. */
export function mergePatch(target: Json, patch: Json): Json {
  if (!isObject(patch)) return patch;
  const out: Record<string, Json> = isObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k] ?? null, v);
  }
  return out;
}

/** Drops strategic-merge-patch directives (`$patch`, `$setElementOrder/...`, `$retainKeys`, ...), which a JSON merge patch does not know. */
export function withoutDirectives(patch: Json): Json {
  if (Array.isArray(patch)) return patch.map(withoutDirectives);
  if (!isObject(patch)) return patch;
  return Object.fromEntries(Object.entries(patch).filter(([k]) => !k.startsWith('$')).map(([k, v]) => [k, withoutDirectives(v)]));
}

/** RFC 6902 JSON patch (add, remove, replace, move, copy, test). */
export function jsonPatch(doc: Json, ops: Json): Json {
  if (!Array.isArray(ops)) throw new PatchError(400, 'a JSON patch must be an array of operations');
  const unescape = (s: string) => s.replace(/~1/g, '/').replace(/~0/g, '~');
  const tokens = (path: Json): string[] => {
    if (typeof path !== 'string' || (path !== '' && !path.startsWith('/'))) throw new PatchError(400, `invalid JSON pointer ${JSON.stringify(path)}`);
    return path === '' ? [] : path.slice(1).split('/').map(unescape);
  };
  const parentOf = (root: Json, toks: string[]): { parent: Json; key: string } => {
    let cur = root;
    for (const t of toks.slice(0, -1)) {
      cur = Array.isArray(cur) ? (cur[Number(t)] ?? null) : isObject(cur) ? (cur[t] ?? null) : null;
      if (cur === null) throw new PatchError(422, `the JSON patch path /${toks.join('/')} does not exist`);
    }
    return { parent: cur, key: toks.at(-1) ?? '' };
  };
  const get = (root: Json, toks: string[]): Json | undefined => {
    let cur: Json | undefined = root;
    for (const t of toks) cur = Array.isArray(cur) ? cur[Number(t)] : isObject(cur) ? cur[t] : undefined;
    return cur;
  };
  const remove = (root: Json, toks: string[]): Json => {
    const { parent, key } = parentOf(root, toks);
    const old = get(root, toks);
    if (old === undefined) throw new PatchError(422, `the JSON patch cannot remove /${toks.join('/')}: it does not exist`);
    if (Array.isArray(parent)) parent.splice(Number(key), 1);
    else if (isObject(parent)) delete parent[key];
    return old;
  };
  const add = (root: Json, toks: string[], value: Json): Json => {
    if (toks.length === 0) return value;
    const { parent, key } = parentOf(root, toks);
    if (Array.isArray(parent)) parent.splice(key === '-' ? parent.length : Number(key), 0, value);
    else if (isObject(parent)) parent[key] = value;
    else throw new PatchError(422, `the JSON patch path /${toks.join('/')} does not exist`);
    return root;
  };
  let out = structuredClone(doc);
  for (const op of ops) {
    if (!isObject(op)) throw new PatchError(400, 'a JSON patch operation must be an object');
    const path = tokens(op.path ?? null);
    switch (op.op) {
      case 'add':
        out = add(out, path, structuredClone(op.value ?? null));
        break;
      case 'remove':
        remove(out, path);
        break;
      case 'replace':
        remove(out, path);
        out = add(out, path, structuredClone(op.value ?? null));
        break;
      case 'move':
        out = add(out, path, remove(out, tokens(op.from ?? null)));
        break;
      case 'copy':
        out = add(out, path, structuredClone(get(out, tokens(op.from ?? null)) ?? null));
        break;
      case 'test':
        if (JSON.stringify(get(out, path)) !== JSON.stringify(op.value)) throw new PatchError(422, `the JSON patch test at ${String(op.path)} failed`);
        break;
      default:
        throw new PatchError(400, `unknown JSON patch operation ${JSON.stringify(op.op)}`);
    }
  }
  return out;
}
