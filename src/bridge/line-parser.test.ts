import { describe, expect, it } from 'vitest';
import { compileParser, DEFAULT_PARSER, ParserSpecError } from './parser-spec.ts';
import { parseLine } from './line-parser.ts';

const parser = compileParser(DEFAULT_PARSER);

describe('serial line parser (default vigil-line-v1 spec)', () => {
  it.each([
    ['TEMP 36.8 C\r', [{ code: '8310-5', value: 36.8, unit: 'C' }]],
    ['TEMP 98.6 F', [{ code: '8310-5', value: 98.6, unit: 'F' }]], // Vigil converts °F on ingest
    ['temp 37', [{ code: '8310-5', value: 37, unit: 'Cel' }]],
    [
      'BP 128/82 HR 71',
      [
        { code: '8480-6', value: 128, unit: 'mm[Hg]' },
        { code: '8462-4', value: 82, unit: 'mm[Hg]' },
        { code: '8867-4', value: 71, unit: '/min' },
      ],
    ],
    [
      'BP 128/82',
      [
        { code: '8480-6', value: 128, unit: 'mm[Hg]' },
        { code: '8462-4', value: 82, unit: 'mm[Hg]' },
      ],
    ],
    [
      'SPO2 97 HR 72',
      [
        { code: '59408-5', value: 97, unit: '%' },
        { code: '8867-4', value: 72, unit: '/min' },
      ],
    ],
    ['GLU 110 mg/dL', [{ code: '2339-0', value: 110, unit: 'mg/dL' }]],
    ['GLU 6,1 mmol/L', [{ code: '2339-0', value: 6.1, unit: 'mmol/L' }]],
  ])('reads %j', (line, readings) => {
    expect(parseLine(parser, line)).toEqual({ kind: 'readings', readings });
  });

  it('reports device errors and ignores what it does not know', () => {
    expect(parseLine(parser, 'ERR cuff not attached')).toEqual({ kind: 'error', message: 'cuff not attached' });
    expect(parseLine(parser, 'HELLO v2.1')).toEqual({ kind: 'unknown' });
    expect(parseLine(parser, '\r\n')).toEqual({ kind: 'empty' });
  });

  it('takes a custom spec with named groups, scaling and LOINC codes', () => {
    const custom = compileParser({
      name: 'acme-t100',
      commands: { MEASURE: 'M?' },
      patterns: [
        {
          match: 'T=(?<tenths>\\d+);P=(?<pulse>\\d+)',
          readings: [
            { key: 'temp', value: 'tenths', scale: 0.1, unit: 'Cel' },
            { code: '8867-4', value: 'pulse' },
          ],
        },
      ],
    });
    expect(custom.commands.MEASURE).toBe('M?');
    expect(parseLine(custom, 'T=368;P=64')).toEqual({
      kind: 'readings',
      readings: [
        { code: '8310-5', value: 36.8, unit: 'Cel' },
        { code: '8867-4', value: 64, unit: '/min' },
      ],
    });
  });

  it('reads the README example (a scale answering W?)', () => {
    const scale = compileParser({
      name: 'scale-st-gs',
      commands: { MEASURE: 'W?' },
      patterns: [{ match: '^ST,GS,\\+?(\\d+\\.\\d+)(kg|lb)$', readings: [{ key: 'weight', value: 1, unitGroup: 2 }] }],
      error: '^(?:US|OL),',
    });
    expect(parseLine(scale, 'ST,GS,+0081.20kg')).toEqual({ kind: 'readings', readings: [{ code: '29463-7', value: 81.2, unit: 'kg' }] });
    expect(parseLine(scale, 'US,GS,+0081.20kg').kind).toBe('error');
  });

  it('refuses a spec with an unknown key or a broken regex, naming the place', () => {
    expect(() => compileParser({ patterns: [{ match: 'X (\\d+)', readings: [{ key: 'pulse', value: 1 }] }] })).toThrow(/patterns\.0\.readings\.0/);
    expect(() => compileParser({ patterns: [{ match: 'X (\\d+', readings: [{ key: 'hr', value: 1 }] }] })).toThrow(ParserSpecError);
  });
});
