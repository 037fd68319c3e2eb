import { describe, expect, it } from 'vitest';
import { commandResultTopic, deviceTopic, parseCommand } from './device-connection.ts';

describe('device protocol helpers (interfaces.md §3)', () => {
  it('builds the device topics', () => {
    expect(deviceTopic('dev_1', 'telemetry')).toBe('vigil/v1/devices/dev_1/telemetry');
    expect(commandResultTopic('dev_1', 'cmd_9')).toBe('vigil/v1/devices/dev_1/commands/cmd_9/result');
  });

  it('parses a command, defaulting args to {}', () => {
    expect(parseCommand('{"id":"c1","name":"MEASURE"}')).toEqual({ command: { id: 'c1', name: 'MEASURE', args: {} } });
    expect(parseCommand(Buffer.from('{"id":"c2","name":"SET_INTERVAL","args":{"seconds":10}}'))).toEqual({
      command: { id: 'c2', name: 'SET_INTERVAL', args: { seconds: 10 } },
    });
  });

  it('rejects malformed commands, keeping the id when there is one so the failure can be answered', () => {
    expect(parseCommand('not json')).toEqual({ error: 'command is not valid JSON' });
    expect(parseCommand('{"name":"MEASURE"}')).toMatchObject({ error: expect.any(String) });
    expect(parseCommand('{"id":"a/b","name":"MEASURE"}')).not.toHaveProperty('id'); // would escape its topic
    expect(parseCommand('{"id":"c3","args":[]}')).toMatchObject({ id: 'c3' });
    expect(parseCommand('{"id":"c4","name":"X","args":[1]}')).toMatchObject({ id: 'c4', error: expect.any(String) });
  });
});
