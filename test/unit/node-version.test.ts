import { expect, it } from 'vitest';

it('runs on Node.js 22, the Lambda runtime (nodejs22.x), not the machine Node', () => {
  expect(process.versions.node.split('.')[0]).toBe('22');
});
