import { describe, expect, it } from 'vitest';
import { detectAllEvents, detectEvents } from './events.ts';
import type { CgmReading } from './types.ts';

const T0 = Date.parse('2026-01-05T00:00:00Z');
const MIN = 60_000;
const at = (i: number) => T0 + i * 5 * MIN;
const series = (values: number[]): CgmReading[] => values.map((mgdl, i) => ({ ts: at(i), mgdl }));

// Battelino 2019: an event is ≥15 consecutive min beyond the threshold; it ends after ≥15 consecutive min back.
describe('CGM events (consensus definition)', () => {
  it('needs 15 min: two low readings (10 min) are no event, three (15 min) are', () => {
    expect(detectEvents(series([100, 65, 60, 100, 100, 100]), 'hypo-level1')).toEqual([]);
    const [e] = detectEvents(series([100, 65, 60, 62, 100, 100, 100]), 'hypo-level1');
    expect(e).toMatchObject({ start: at(1), end: at(4), durationMin: 15, extreme: 60, extremeAt: at(2), ongoing: false });
  });

  it('a recovery shorter than 15 min does not end the event', () => {
    // low ×3, back ×2 (10 min), low ×3, back ×3 (15 min)
    const ev = detectEvents(series([65, 66, 67, 80, 80, 50, 55, 60, 90, 90, 90]), 'hypo-level1');
    expect(ev).toHaveLength(1);
    expect(ev[0]).toMatchObject({ start: at(0), end: at(8), durationMin: 40, extreme: 50, extremeAt: at(5) });
  });

  it('level 2 hypo (<54) inside a level 1 event', () => {
    const values = [100, 60, 53, 50, 52, 58, 65, 100, 100, 100];
    expect(detectEvents(series(values), 'hypo-level2')).toEqual([
      expect.objectContaining({ kind: 'hypo-level2', start: at(2), end: at(5), durationMin: 15, extreme: 50 }),
    ]);
    expect(detectEvents(series(values), 'hypo-level1')[0]).toMatchObject({ start: at(1), end: at(7), durationMin: 30 });
  });

  it('hyper events above 180 and 250, with the peak', () => {
    const values = [150, 190, 260, 270, 255, 200, 185, 170, 160, 150];
    const all = detectAllEvents(series(values));
    expect(all.map((e) => [e.kind, e.start, e.end, e.extreme])).toEqual([
      ['hyper-level1', at(1), at(7), 270],
      ['hyper-level2', at(2), at(5), 270],
    ]);
  });

  it('exactly 70 or 180 is not beyond the threshold', () => {
    expect(detectEvents(series([70, 70, 70, 70]), 'hypo-level1')).toEqual([]);
    expect(detectEvents(series([180, 180, 180, 180]), 'hyper-level1')).toEqual([]);
  });

  it('a data gap over 15 min breaks a run and closes an open event', () => {
    const rs = [...series([60, 60]), { ts: at(2) + 20 * MIN, mgdl: 60 }]; // 2 readings, gap, 1 reading
    expect(detectEvents(rs, 'hypo-level1')).toEqual([]);
    const open = [...series([60, 60, 60, 60]), { ts: at(3) + 30 * MIN, mgdl: 60 }];
    expect(detectEvents(open, 'hypo-level1')[0]).toMatchObject({ start: at(0), end: at(4), durationMin: 20, ongoing: false });
  });

  it('marks an event still open at the end of the data as ongoing', () => {
    expect(detectEvents(series([100, 60, 60, 60, 60]), 'hypo-level1')[0]).toMatchObject({ start: at(1), end: at(5), ongoing: true });
  });
});
