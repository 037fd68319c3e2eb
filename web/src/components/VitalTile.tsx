import type { LatestValue } from '@contracts';
import { formatValue } from '../lib/format.ts';
import type { VitalDef } from '../lib/vitals.ts';
import { FlashValue } from './FlashValue.tsx';
import { Sparkline } from './Sparkline.tsx';
import { TimeAgo } from './TimeAgo.tsx';

export interface VitalTileProps {
  vital: VitalDef;
  /** One value per code in `vital.codes` (BP: systolic, diastolic). */
  values: (LatestValue | undefined)[];
  trend?: [number, number][];
  plain?: boolean;
  active?: boolean;
  onSelect?: () => void;
}

export function vitalText(vital: VitalDef, values: (LatestValue | undefined)[]): string {
  if (values.every((v) => !v)) return '—';
  return values.map((v) => formatValue(v?.value, vital.decimals)).join('/');
}

export function latestTs(values: (LatestValue | undefined)[]): string | undefined {
  return values
    .map((v) => v?.ts)
    .filter((t): t is string => !!t)
    .sort()
    .pop();
}

/** A large current value with unit, freshness and an optional trend. */
export function VitalTile({ vital, values, trend, plain = false, active = false, onSelect }: VitalTileProps) {
  const ts = latestTs(values);
  const body = (
    <>
      <span className="tile-label">{plain ? vital.plain : vital.label}</span>
      <span className="tile-value">
        <FlashValue stamp={ts}>{vitalText(vital, values)}</FlashValue>
        <span className="tile-unit">{plain ? vital.plainUnit : vital.unit}</span>
      </span>
      <span className="tile-foot">
        {ts ? <TimeAgo ts={ts} plain={plain} /> : <span className="ago">{plain ? 'No reading yet' : 'no data'}</span>}
        {trend ? <Sparkline points={trend} width={72} height={20} /> : null}
      </span>
    </>
  );
  if (onSelect) {
    return (
      <button type="button" className={`tile vital-${vital.key} ${active ? 'is-active' : ''}`} onClick={onSelect} aria-pressed={active}>
        {body}
      </button>
    );
  }
  return <div className={`tile vital-${vital.key}`}>{body}</div>;
}
