import { describe, expect, it } from 'vitest';
import { packIds, unpackIds } from './relay.ts';

describe('relay id runs', () => {
  it('packs a batch of consecutive ids into runs and unpacks them to the same set', () => {
    const ids = [...Array.from({ length: 10_000 }, (_, i) => String(5_000_000 + i)), '17', '19', '18', '4999999999'];
    const packed = packIds(ids);
    expect(packed).toEqual(['17-19', '5000000-5009999', '4999999999']);
    expect(unpackIds(packed.join(',')).sort()).toEqual([...ids].sort());
  });

  it('drops what is not an id or a sane run (a notification payload is never trusted)', () => {
    expect(unpackIds('1,abc,5-3,7-9,10-2000000,x-1,,12')).toEqual(['1', '7', '8', '9', '12']);
  });
});
