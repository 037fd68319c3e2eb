import { describe, expect, it } from 'vitest';
import { parseCommandRequest } from './command-request.ts';
import { parseCommandResult } from './command-result.ts';

describe('command requests (validated per name)', () => {
  it('accepts each command with its arguments', () => {
    expect(parseCommandRequest({ name: 'MEASURE' })).toEqual({ name: 'MEASURE', args: {} });
    expect(parseCommandRequest({ name: 'SET_INTERVAL', args: { seconds: 30 } }).args).toEqual({ seconds: 30 });
    expect(parseCommandRequest({ name: 'IDENTIFY', args: { seconds: 10 }, timeoutSeconds: 5, expiresInSeconds: 60 })).toEqual({
      name: 'IDENTIFY',
      args: { seconds: 10 },
      timeoutMs: 5000,
      expiresInMs: 60_000,
    });
  });

  it.each([
    [{ name: 'SET_INTERVAL', args: {} }, /SET_INTERVAL: args\.seconds/],
    [{ name: 'SET_INTERVAL', args: { seconds: 0 } }, /seconds/],
    [{ name: 'MEASURE', args: { now: true } }, /MEASURE: args.*now/],
    [{ name: 'REBOOT' }, /name/],
    [{}, /name/],
    [{ name: 'MEASURE', timeoutSeconds: 0 }, /timeoutSeconds/],
  ])('refuses %j naming the field', (body, message) => {
    expect(() => parseCommandRequest(body)).toThrow(message);
  });
});

describe('command results from devices', () => {
  it('reads done and failed answers, and fails anything unreadable saying why', () => {
    expect(parseCommandResult('{"status":"done","message":"measured hr=72"}')).toEqual({ status: 'done', message: 'measured hr=72' });
    expect(parseCommandResult('{"status":"failed"}')).toEqual({ status: 'failed', message: null });
    expect(parseCommandResult('{"status":"ok"}')).toEqual({ status: 'failed', message: 'the device answered with an unknown status "ok"' });
    expect(parseCommandResult('not json').status).toBe('failed');
    expect(parseCommandResult(JSON.stringify({ status: 'done', message: 'x'.repeat(2000) })).message).toHaveLength(500);
  });
});
