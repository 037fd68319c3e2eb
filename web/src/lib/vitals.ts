/** How the app shows each observation code (LOINC, UCUM units as the server sends them). */
export interface VitalDef {
  key: string;
  codes: string[]; // BP is two codes shown as one value
  label: string;
  short: string;
  /** Plain-language name for the patient's own view. */
  plain: string;
  unit: string;
  plainUnit: string;
  decimals: number;
  /** Usual adult range, drawn as a band on charts. */
  normal?: [number, number];
}

export const CODE = {
  hr: '8867-4',
  spo2: '59408-5',
  rr: '9279-1',
  sbp: '8480-6',
  dbp: '8462-4',
  temp: '8310-5',
  glucose: '2339-0',
  weight: '29463-7',
  steps: '55423-8',
} as const;

export const VITALS: VitalDef[] = [
  {
    key: 'hr',
    codes: [CODE.hr],
    label: 'Heart rate',
    short: 'HR',
    plain: 'Heart rate',
    unit: '/min',
    plainUnit: 'beats a minute',
    decimals: 0,
    normal: [51, 90],
  },
  { key: 'spo2', codes: [CODE.spo2], label: 'SpO₂', short: 'SpO₂', plain: 'Oxygen level', unit: '%', plainUnit: '%', decimals: 0, normal: [96, 100] },
  {
    key: 'rr',
    codes: [CODE.rr],
    label: 'Respiratory rate',
    short: 'RR',
    plain: 'Breathing rate',
    unit: '/min',
    plainUnit: 'breaths a minute',
    decimals: 0,
    normal: [12, 20],
  },
  {
    key: 'bp',
    codes: [CODE.sbp, CODE.dbp],
    label: 'Blood pressure',
    short: 'BP',
    plain: 'Blood pressure',
    unit: 'mmHg',
    plainUnit: 'mmHg',
    decimals: 0,
    normal: [111, 219],
  },
  { key: 'temp', codes: [CODE.temp], label: 'Temperature', short: 'Temp', plain: 'Temperature', unit: '°C', plainUnit: '°C', decimals: 1, normal: [36.1, 38] },
  {
    key: 'glucose',
    codes: [CODE.glucose],
    label: 'Glucose',
    short: 'Glu',
    plain: 'Blood sugar',
    unit: 'mg/dL',
    plainUnit: 'mg/dL',
    decimals: 0,
    normal: [70, 180],
  },
];

export const EXTRA_VITALS: VitalDef[] = [
  { key: 'weight', codes: [CODE.weight], label: 'Weight', short: 'Wt', plain: 'Weight', unit: 'kg', plainUnit: 'kg', decimals: 1 },
  { key: 'steps', codes: [CODE.steps], label: 'Steps', short: 'Steps', plain: 'Steps', unit: 'steps', plainUnit: 'steps', decimals: 0 },
];

/** Shows UCUM units the way clinicians write them. */
export function displayUnit(ucum: string): string {
  switch (ucum) {
    case 'Cel':
      return '°C';
    case 'mm[Hg]':
      return 'mmHg';
    case '{steps}':
      return 'steps';
    case '{score}':
      return '';
    default:
      return ucum;
  }
}
