import type { PatientStatus } from '@contracts';
import { STATUS_LABEL } from '../lib/status.ts';

export function StatusDot({ status, withLabel = false }: { status: PatientStatus; withLabel?: boolean }) {
  return (
    <span className={`status status-${status}`} title={STATUS_LABEL[status]}>
      <span className="status-dot" aria-hidden="true" />
      {withLabel ? <span className="status-label">{STATUS_LABEL[status]}</span> : <span className="sr-only">{STATUS_LABEL[status]}</span>}
    </span>
  );
}
