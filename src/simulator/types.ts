/** Plain shapes shared by the simulator's models and its MQTT transport. */

export type DeviceKind = 'vitals' | 'bp' | 'cgm' | 'ecg' | 'scale' | 'thermometer';

export type Condition = 'copd' | 'heart-failure' | 'diabetes-t1' | 'diabetes-t2' | 'hypertension' | 'af-prone';

export type ScenarioKind = 'sepsis' | 'hypoglycaemia' | 'af-episode' | 'copd-exacerbation' | 'hf-weight-gain';

/** A patient's resting physiology; the models add drift, circadian rhythm, scenarios and device noise. */
export interface PatientProfile {
  age: number;
  sex: 'female' | 'male';
  conditions: Condition[];
  /** NEWS2 SpO2 scale: 2 for hypercapnic respiratory failure (COPD), target 88–92 %. */
  spo2Scale: 1 | 2;
  baseline: {
    hr: number; // /min
    spo2: number; // %
    rr: number; // /min
    temp: number; // Cel
    sbp: number; // mm[Hg]
    dbp: number; // mm[Hg]
    weight: number; // kg
    glucose: number; // mg/dL, fasting
  };
  /** R-wave amplitude in lead II, µV. */
  ecgAmplitude: number;
}

export interface Scenario {
  kind: ScenarioKind;
  /** Start, measured from simulator start, in simulated ms (default 60 s). */
  startAfterMs?: number;
  /** Restart the scenario this long after each start (a cycle), in simulated ms; unset: once. */
  repeatEveryMs?: number;
  /** Multiplies the scenario's own durations: 1 is clinically realistic, < 1 compresses it (demo). */
  timeScale?: number;
}

export interface SimDevice {
  deviceId: string;
  secret: string;
  kind: DeviceKind;
}

export interface SimPatient {
  patientId: string;
  name: string;
  profile: PatientProfile;
  devices: SimDevice[];
  scenario?: Scenario;
}
