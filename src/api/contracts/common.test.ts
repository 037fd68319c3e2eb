import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { commaList } from './common.ts';
import { AppointmentsQuery } from './appointments.ts';
import { TasksQuery } from './tasks.ts';

const Colour = z.enum(['red', 'green', 'blue']);

describe('commaList', () => {
  it('splits on commas, trims and drops blanks', () => {
    expect(commaList(Colour).parse(' red, blue,,green ')).toEqual(['red', 'blue', 'green']);
    expect(commaList(Colour).parse('')).toEqual([]);
  });

  it('refuses a value outside the enum, naming where it is', () => {
    const r = commaList(Colour).safeParse('red,purple');
    expect(r.success).toBe(false);
    expect(r.error?.issues[0].path).toEqual([1]);
  });

  it('refuses a list longer than its bound', () => {
    expect(commaList(Colour, 10).safeParse('red,green,blue').success).toBe(false);
  });

  it('is what the appointment and task queries use for status', () => {
    expect(AppointmentsQuery.parse({ status: 'booked,arrived' }).status).toEqual(['booked', 'arrived']);
    expect(AppointmentsQuery.safeParse({ status: 'maybe' }).success).toBe(false);
    expect(TasksQuery.parse({ status: 'requested, in-progress' }).status).toEqual(['requested', 'in-progress']);
    expect(TasksQuery.parse({}).status).toBeUndefined();
  });
});
