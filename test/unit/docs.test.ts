/**
 * The documents of docs/ rendered by `npm run docs` (scripts/generate-docs.ts): each committed
 * file equals a fresh render, and each is checked against the sources it is drawn from, so a
 * renamed state, a new error or a new route makes a test fail instead of a document rot.
 */
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { errorNameOf, RETRYABLE_ERRORS, TERMINAL_ERRORS, TROUBLESHOOTING } from '../../functions/lib/errors.ts';
import { ROUTES } from '../../functions/lib/onboarding-api.ts';
import { allStates, loadDefinition, MACHINE_NAMES } from '../../statemachine/definition.ts';
import { DOCUMENTS, foldedStates, openApiDocument, renderMermaid, ruleText } from '../../scripts/generate-docs.ts';
import { onboardingRequestJsonSchema } from '../../scripts/generate-schema.ts';
import { ADDITIONS, SEED_STEPS } from '../../scripts/seed-steps.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

describe('generated documents', () => {
  it.each(DOCUMENTS.map((d) => [relative(ROOT, d.path), d] as const))('%s is up to date (run `npm run docs`)', (_name, doc) => {
    expect(readFileSync(doc.path, 'utf8'), 'run npm run docs').toBe(doc.render());
  });
});

describe('troubleshooting', () => {
  it('has a meaning and a fix for every terminal and retryable error, and nothing else', () => {
    const names = [...TERMINAL_ERRORS, ...RETRYABLE_ERRORS].map(errorNameOf);

    for (const name of names) {
      const row = (TROUBLESHOOTING as Record<string, { means: string; fix: string } | undefined>)[name];
      expect(row, `TROUBLESHOOTING has no entry for ${name}`).toBeDefined();
      expect(row!.means.length).toBeGreaterThan(20);
      expect(row!.fix.length).toBeGreaterThan(20);
    }
    expect(Object.keys(TROUBLESHOOTING).sort()).toEqual([...names].sort());
  });
});

describe('openapi.json', () => {
  const doc = openApiDocument() as { openapi: string; paths: Record<string, Record<string, { parameters?: { name: string; in: string }[]; responses: Record<string, unknown> }>>; components: { schemas: Record<string, unknown> } };

  it('is OpenAPI 3.1 with every $ref resolving inside the document', () => {
    expect(doc.openapi).toBe('3.1.0');
    const refs: string[] = [];
    const walk = (v: unknown): void => {
      if (Array.isArray(v)) v.forEach(walk);
      else if (v && typeof v === 'object') {
        for (const [k, x] of Object.entries(v)) {
          if (k === '$ref' && typeof x === 'string') refs.push(x);
          else walk(x);
        }
      }
    };
    walk(doc);

    expect(refs.length).toBeGreaterThan(20);
    for (const ref of refs) {
      expect(ref, ref).toMatch(/^#\//);
      const target = ref
        .slice(2)
        .split('/')
        .reduce<unknown>((node, key) => (node && typeof node === 'object' ? (node as Record<string, unknown>)[key] : undefined), doc);
      expect(target, `${ref} does not resolve`).toBeDefined();
    }
  });

  it("describes every route of the API's route list, and no other", () => {
    // OpenAPI allows one parameter name per path template, so `{workload}` and `{id}` compare as `{}`.
    const shape = (route: string) => route.replace(/\{[^}]+\}/g, '{}');
    const described = Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((method) => shape(`${method.toUpperCase()} ${path}`)));

    expect(described.sort()).toEqual(ROUTES.map(shape).sort());
  });

  it('declares every path parameter, and gives every operation its error answers', () => {
    for (const [path, ops] of Object.entries(doc.paths)) {
      const params = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
      for (const [method, op] of Object.entries(ops)) {
        expect(op.parameters?.filter((p) => p.in === 'path').map((p) => p.name) ?? [], `${method} ${path}`).toEqual(params);
        expect(Object.keys(op.responses), `${method} ${path}`).toEqual(expect.arrayContaining(['500', '503']));
        expect(Object.keys(op.responses).some((s) => s.startsWith('2')), `${method} ${path}`).toBe(true);
      }
    }
    expect(Object.keys(doc.paths['/onboardings']!.post!.responses)).toEqual(expect.arrayContaining(['202', '400', '409', '413', '415']));
  });

  it('takes the request body schema from the zod schema, not a copy by hand', () => {
    const { $schema: _d, $id: _i, ...generated } = onboardingRequestJsonSchema();

    expect(doc.components.schemas.OnboardingRequest).toEqual(generated);
  });
});

describe('seed-vs-tool', () => {
  it('cites only states that exist in the machine it names', () => {
    const names = Object.fromEntries(MACHINE_NAMES.map((m) => [m, new Set(allStates(loadDefinition(m)).map(([n]) => n))]));
    const cited = [...SEED_STEPS, ...ADDITIONS].flatMap((s) => s.states);

    expect(cited.length).toBeGreaterThan(0);
    for (const { machine, state } of cited) expect(names[machine]!.has(state), `"${state}" is not a state of ${machine}`).toBe(true);
  });
});

describe('workflows.md', () => {
  it.each(MACHINE_NAMES)('%s: draws every state (but the folded "<step> failed" Passes), and every edge joins declared nodes', (machine) => {
    const definition = loadDefinition(machine);
    const mermaid = renderMermaid(definition);
    const folded = foldedStates(definition);

    for (const [name] of allStates(definition)) {
      if (folded.has(name)) expect(mermaid).not.toContain(`"${name}"`);
      else expect(mermaid, name).toMatch(new RegExp(`\\s(s\\d+)[[{(/]+"(?:Parallel: |Map: )?${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}[<"]`));
    }
    const declared = new Set([...mermaid.matchAll(/^\s*(?:subgraph )?(s\d+(?:b\d+)?|start|note)[[{(/]/gm)].map((m) => m[1]));
    for (const m of mermaid.matchAll(/^\s*(\S+) -(?:->|\.->|\.-)(?:\|"[^"]*"\|)? (\S+)$/gm)) {
      expect(declared.has(m[1]!), `${m[0]}`).toBe(true);
      expect(declared.has(m[2]!), `${m[0]}`).toBe(true);
    }
  });

  it('writes Choice rules as conditions', () => {
    expect(ruleText({ Variable: '$.a', BooleanEquals: true })).toBe('$.a == true');
    expect(ruleText({ And: [{ Variable: '$[0].failure', IsPresent: true }, { Variable: '$.n', NumericGreaterThan: 2 }] })).toBe('$[0].failure present and $.n > 2');
  });
});
