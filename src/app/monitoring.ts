import type { Services } from './services.ts';
import { createDerivedObservations } from '../monitoring/derived-observations.ts';
import { createEcgMonitor } from '../monitoring/ecg-monitor.ts';
import { createCgmDailySummaries } from '../monitoring/cgm-daily.ts';

/** Analysis as data arrives: alert rules, derived NEWS2, the ECG stream, CGM daily summaries. */
export async function startMonitoring(services: Services, alertsStart: { appUrl: () => string; dataDir: string }) {
  // Alerts start before the broker so that the first readings meet loaded rules.
  await services.alerts.start(alertsStart);
  const derived = createDerivedObservations({ ...services });
  const ecgMonitor = createEcgMonitor({ ...services });
  const cgmDaily = createCgmDailySummaries({ ...services });
  return {
    afSince: ecgMonitor.afSince,
    async close() {
      cgmDaily.close();
      ecgMonitor.close();
      derived.close();
      await services.alerts.close();
    },
  };
}

export type Monitoring = Awaited<ReturnType<typeof startMonitoring>>;
