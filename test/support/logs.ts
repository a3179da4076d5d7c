/** Captures the JSON lines the Powertools logger writes (stdout and stderr) while `fn` runs (tests run with the logger SILENT). */
import { vi } from 'vitest';
import { logger } from '../../functions/lib/middleware.ts';

export type LogLine = Record<string, unknown> & { message?: string };

export async function captureLogs<T>(fn: () => Promise<T>): Promise<{ result: T; lines: LogLine[] }> {
  const lines: LogLine[] = [];
  const level = logger.getLevelName();
  // WARN and ERROR lines go to stderr (console.warn / console.error), the rest to stdout.
  const spies = [process.stdout, process.stderr].map((stream) => {
    const write = stream.write.bind(stream);
    return vi.spyOn(stream, 'write').mockImplementation((chunk: string | Uint8Array, ...rest: unknown[]) => {
      const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
      const parsed = text.split('\n').flatMap((l) => {
        try {
          const v: unknown = JSON.parse(l);
          return typeof v === 'object' && v !== null && 'level' in v ? [v as LogLine] : [];
        } catch {
          return [];
        }
      });
      if (parsed.length > 0) {
        lines.push(...parsed);
        return true;
      }
      return (write as (c: string | Uint8Array, ...r: unknown[]) => boolean)(chunk, ...rest);
    });
  });
  // Each warm invocation resets the level to the initial one (SILENT in tests): hold it at INFO meanwhile.
  const refresh = vi.spyOn(logger, 'refreshSampleRateCalculation').mockImplementation(() => undefined);
  logger.setLogLevel('INFO');
  try {
    return { result: await fn(), lines };
  } finally {
    logger.setLogLevel(level);
    refresh.mockRestore();
    for (const spy of spies) spy.mockRestore();
  }
}
