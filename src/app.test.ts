/**
 * app.ts is the one composition root (issue 7): it builds every service; modules receive what they use and
 * never import app.ts (that made cycles: monitoring and the demo seed imported `Services` from it). Only the
 * CLI's entry points start or open the app.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { SRC, sourceFiles } from '../test/support/source-files.ts';

const IMPORTS_APP = /from '(\.\.?\/)+app\.ts'|import\('(\.\.?\/)+app\.ts'\)/;

describe('the composition root', () => {
  it('is imported only by the CLI entry points', () => {
    const importers = sourceFiles().filter((f) => f !== 'app.ts' && IMPORTS_APP.test(readFileSync(path.join(SRC, f), 'utf8')));
    expect(importers.sort()).toEqual(['cli/clinic.ts', 'cli/commands/start.ts', 'cli/offline-services.ts']);
  });
});
