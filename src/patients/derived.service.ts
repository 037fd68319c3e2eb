import type { AccessPolicy } from '../auth/access.ts';
import type { Principal } from '../domain/types.ts';
import type { Clock } from '../platform/clock.ts';
import type { PatientsRepository } from '../store/patients.repository.ts';
import type { ReadingsRepository } from '../store/readings.repository.ts';
import { notFound } from '../platform/errors.ts';
import { classifyBpReadings, homeBpAverages, type BpReading } from '../analysis/bp/index.ts';
import { offsetLookup } from '../platform/time-zone.ts';
import { agpProfile, cgmWindowSummary } from '../analysis/cgm/index.ts';
import { DERIVED_CODES } from '../domain/codes.ts';
import { news2For, settingsOf } from './patient-status.ts';

const DAY_MS = 86_400_000;
const BP_WINDOW_DAYS = 7; // home BP averages over 7 days (ACC/AHA 2017 §4.2)
const CGM_WINDOW_DAYS = 14; // consensus review window (Battelino 2019)
const ECG_LOOKBACK_MS = 10 * 60_000; // ECG findings older than 10 min are not "current"

/** Pairs systolic and diastolic readings taken together (same device, same time). */
function pairBp(
  sys: Array<{ ts: number; value: number; deviceId: string | null }>,
  dia: Array<{ ts: number; value: number; deviceId: string | null }>,
): BpReading[] {
  const byKey = new Map(dia.map((d) => [`${d.deviceId}|${d.ts}`, d.value]));
  return sys.flatMap((s) => {
    const d = byKey.get(`${s.deviceId}|${s.ts}`);
    return d === undefined ? [] : [{ ts: s.ts, systolic: s.value, diastolic: d }];
  });
}

/** The analysis results for one patient's page: NEWS2 now, BP category, CGM metrics + AGP, ECG findings. */
export function createDerivedService(deps: {
  access: AccessPolicy;
  patients: PatientsRepository;
  readings: ReadingsRepository;
  clock: Clock;
  /** The clinic's IANA zone; a patient's own (settings.timeZone) wins. */
  timeZone: string;
}) {
  return {
    async forPatient(principal: Principal, patientId: string) {
      await deps.access.assertPatient(principal, patientId);
      const patient = await deps.patients.byId(patientId);
      if (!patient) throw notFound(`patient ${patientId}`);
      const now = deps.clock.now();
      const [latest, sys, dia, glucose, ecgHr, af] = await Promise.all([
        deps.readings.latestFor([patientId]),
        deps.readings.range(patientId, '8480-6', now - BP_WINDOW_DAYS * DAY_MS, now),
        deps.readings.range(patientId, '8462-4', now - BP_WINDOW_DAYS * DAY_MS, now),
        deps.readings.range(patientId, '2339-0', now - CGM_WINDOW_DAYS * DAY_MS, now),
        deps.readings.range(patientId, DERIVED_CODES.ecgHeartRate.code, now - ECG_LOOKBACK_MS, now),
        deps.readings.range(patientId, DERIVED_CODES.afEpisode.code, now - DAY_MS, now),
      ]);
      const l = latest.get(patientId) ?? {};
      const settings = settingsOf(patient.settings);
      const news2 = Object.keys(l).length ? news2For(l, settings, now) : null;
      // Clock times (morning BP, the AGP's hours) in the patient's zone, the offset taken at each reading.
      const timeZone = settings.timeZone ?? deps.timeZone;
      const offsetAt = offsetLookup(timeZone);

      // The window of homeBpAverages (after now − 7 days, up to now): the office and home categories average the same readings.
      const bpReadings = pairBp(sys, dia)
        .filter((r) => r.ts > now - BP_WINDOW_DAYS * DAY_MS)
        .map((r) => ({ ...r, offsetMinutes: offsetAt(r.ts) }));
      const bpClass = bpReadings.length ? classifyBpReadings(bpReadings) : null;
      const home = homeBpAverages(bpReadings, now, { days: BP_WINDOW_DAYS });
      const bp = bpClass && {
        category: bpClass.category ?? bpClass.provisionalCategory,
        // That average against the home thresholds (ACC/AHA 2017 Table 11: 135/85 at home = 140/90 in clinic):
        // the home summary's own overall category, not a second classification of the same readings.
        homeCategory: home.overall.category ?? home.overall.provisionalCategory,
        sufficient: bpClass.sufficient,
        ...(bpClass.sufficient ? {} : { reason: bpClass.reason }),
        systolic: bpClass.systolic,
        diastolic: bpClass.diastolic,
        readings: bpReadings.length,
        home,
      };

      const cgmReadings = glucose.map((g) => ({ ts: g.ts, mgdl: g.value, offsetMinutes: offsetAt(g.ts) }));
      const summary = cgmReadings.length ? cgmWindowSummary(cgmReadings, now, { days: CGM_WINDOW_DAYS }) : null;
      const cgm = summary?.metrics ? { ...summary.metrics, targets: summary.targets, events: summary.events.slice(-20), agp: agpProfile(cgmReadings) } : null;

      const ecgHeartRate = ecgHr.filter((r) => r.method).at(-1);
      const afRows = af.filter((r) => r.method);
      const ecg =
        ecgHeartRate || afRows.length
          ? {
              heartRate: ecgHeartRate ? Math.round(ecgHeartRate.value) : null,
              heartRateAt: ecgHeartRate ? new Date(ecgHeartRate.ts).toISOString() : null,
              afEpisodes24h: afRows.length,
              afBurdenMinutes24h: Math.round(afRows.reduce((s, r) => s + r.value, 0) / 60),
              algorithm: ecgHeartRate?.method ?? afRows[0]?.method ?? null,
            }
          : null;
      return { news2, bp, cgm, ecg, timeZone };
    },
  };
}

export type DerivedService = ReturnType<typeof createDerivedService>;
