/**
 * Virtual patients for `vigil simulate` and the demo clinic: plausible names, ages 45–90, chronic
 * conditions with matching baselines, the devices such a patient would be sent home with, and (for the
 * first few) a demo scenario so that something clinically interesting happens within minutes.
 * Deterministic for a given seed.
 */
import { type Rng, createRng, clamp, MINUTE_MS } from './random.ts';
import { demoScenario } from './scenarios.ts';
import type { Condition, DeviceKind, PatientProfile, Scenario, ScenarioKind } from './types.ts';

export interface VirtualPatient {
  name: string;
  /** YYYY-MM-DD */
  birthDate: string;
  profile: PatientProfile;
  scenario?: Scenario;
  /** Devices to provision for this patient. */
  deviceKinds: DeviceKind[];
}

const FEMALE = [
  'Margaret',
  'Aisha',
  'Ingrid',
  'Rosa',
  'Mei',
  'Patricia',
  'Fatima',
  'Helen',
  'Sofia',
  'Priya',
  'Joan',
  'Amara',
  'Elena',
  'Yuki',
  'Dorothy',
  'Grace',
];
const MALE = [
  'Arthur',
  'Kwame',
  'Henrik',
  'José',
  'Wei',
  'Robert',
  'Omar',
  'George',
  'Luca',
  'Rajesh',
  'Frank',
  'Tomasz',
  'Samuel',
  'Kenji',
  'Patrick',
  'Ibrahim',
];
const FAMILY = [
  'Thompson',
  'Okafor',
  'Lindqvist',
  'García',
  'Chen',
  'O’Brien',
  'Haddad',
  'Walker',
  'Rossi',
  'Patel',
  'Nowak',
  'Mensah',
  'Kowalski',
  'Tanaka',
  'Murphy',
  'Schmidt',
  'Adeyemi',
  'Novak',
  'Fernández',
  'Evans',
];

interface Archetype {
  conditions: Condition[];
  scenario?: ScenarioKind;
  devices: DeviceKind[];
}

/** The first five patients cover every scenario; later ones are drawn at random. */
const SHOWCASE: Archetype[] = [
  { conditions: ['hypertension', 'diabetes-t2'], scenario: 'sepsis', devices: ['vitals', 'bp', 'thermometer'] },
  { conditions: ['diabetes-t1'], scenario: 'hypoglycaemia', devices: ['cgm', 'vitals'] },
  { conditions: ['af-prone', 'hypertension'], scenario: 'af-episode', devices: ['ecg', 'vitals', 'bp'] },
  { conditions: ['copd'], scenario: 'copd-exacerbation', devices: ['vitals', 'thermometer'] },
  { conditions: ['heart-failure', 'hypertension'], scenario: 'hf-weight-gain', devices: ['scale', 'bp', 'vitals'] },
];

const OTHERS: Archetype[] = [
  { conditions: ['hypertension'], devices: ['bp', 'vitals'] },
  { conditions: ['diabetes-t2'], devices: ['cgm', 'scale'] },
  { conditions: ['heart-failure'], devices: ['scale', 'bp', 'vitals'] },
  { conditions: ['copd'], devices: ['vitals'] },
  { conditions: ['af-prone'], devices: ['ecg', 'vitals'] },
  { conditions: ['diabetes-t1'], devices: ['cgm'] },
];

function profileFor(conditions: Condition[], age: number, sex: 'female' | 'male', rng: Rng): PatientProfile {
  const has = (c: Condition): boolean => conditions.includes(c);
  const copd = has('copd');
  const height = sex === 'female' ? rng.uniform(1.52, 1.75) : rng.uniform(1.64, 1.88); // m
  const bmi = rng.uniform(21, has('diabetes-t2') || has('heart-failure') ? 34 : 29);
  return {
    age,
    sex,
    conditions,
    spo2Scale: copd ? 2 : 1,
    baseline: {
      hr: Math.round(rng.uniform(62, 80) + (has('heart-failure') ? 6 : 0) + (copd ? 6 : 0)),
      spo2: copd ? rng.uniform(89, 92) : rng.uniform(95.5, 98),
      rr: Math.round(rng.uniform(13, 17) + (copd ? 4 : 0)),
      temp: rng.uniform(36.5, 37.0),
      sbp: Math.round((has('hypertension') ? rng.uniform(140, 158) : rng.uniform(115, 132)) + (age - 60) * 0.3),
      dbp: Math.round(has('hypertension') ? rng.uniform(86, 96) : rng.uniform(70, 82)),
      weight: Math.round(bmi * height * height * 10) / 10,
      glucose: has('diabetes-t1') ? rng.uniform(125, 150) : has('diabetes-t2') ? rng.uniform(125, 145) : rng.uniform(82, 98),
    },
    ecgAmplitude: Math.round(clamp(rng.uniform(1000, 1500) - (age - 60) * 3, 900, 1500)),
  };
}

function birthDate(age: number, now: number, rng: Rng): string {
  const d = new Date(now - (age + rng.uniform(0.02, 0.98)) * 365.25 * 86_400_000);
  return d.toISOString().slice(0, 10);
}

/** `n` virtual patients; the first five each carry one demo scenario, staggered over the first minutes. */
export function makeVirtualPatients(n: number, seed = 1, now: number = Date.now()): VirtualPatient[] {
  const rng = createRng(seed);
  const patients: VirtualPatient[] = [];
  const usedNames = new Set<string>();
  for (let i = 0; i < n; i++) {
    const archetype = i < SHOWCASE.length ? SHOWCASE[i]! : rng.pick(OTHERS);
    const sex = rng.next() < 0.5 ? 'female' : 'male';
    let name = '';
    for (let tries = 0; tries < 20 && (name === '' || usedNames.has(name)); tries++) {
      name = `${rng.pick(sex === 'female' ? FEMALE : MALE)} ${rng.pick(FAMILY)}`;
    }
    if (usedNames.has(name)) name = `${name} ${i + 1}`;
    usedNames.add(name);
    const age = rng.int(45, 90);
    const p: VirtualPatient = {
      name,
      birthDate: birthDate(age, now, rng),
      profile: profileFor(archetype.conditions, age, sex, rng),
      deviceKinds: [...archetype.devices],
    };
    // Showcase scenarios start 1–3 min in (staggered), so the demo changes soon after start.
    if (archetype.scenario) p.scenario = demoScenario(archetype.scenario, (1 + i * 0.5) * MINUTE_MS);
    patients.push(p);
  }
  return patients;
}
