import { CliError, type CliCommand } from '../command.ts';
import { openClinic } from '../clinic.ts';
import { cliConfig } from '../runtime.ts';
import { createSimulator, makeVirtualPatients, type SimPatient } from '../../simulator/index.ts';
import { DEVICE_TYPE_OF } from '../../demo/seed.ts';

const STATS_EVERY_MS = 10_000;

const command: CliCommand = {
  name: 'simulate',
  summary: 'run simulated patients and devices publishing vitals, CGM and ECG over MQTT',
  help: `Usage: vigil simulate --patients N [--mqtt URL] [--speed X] [--duration SECONDS] [--seed N] [--json]

Registers N virtual patients, named "… (simulated)" (with realistic conditions and scripted deteriorations: sepsis,
hypoglycaemia, AF, COPD exacerbation, heart-failure weight gain), provisions their devices, and runs them
as real MQTT clients until Ctrl-C (or --duration). --mqtt defaults to MQTT_URL or the local broker.
--clinician EMAIL puts the new patients on that clinician's care team.`,
  async run(args, io) {
    const n = Number(args.flags.patients ?? 5);
    if (!Number.isInteger(n) || n < 1 || n > 2000) throw new CliError('--patients must be a whole number from 1 to 2000');
    const speed = Number(args.flags.speed ?? 1);
    if (!(speed > 0)) throw new CliError('--speed must be a positive number');
    const config = cliConfig();
    const mqttUrl = typeof args.flags.mqtt === 'string' ? args.flags.mqtt : (config.mqttUrl ?? `mqtt://127.0.0.1:${config.mqttPort}`);

    const clinic = await openClinic();
    // Simulated patients raise real alerts: in a clinic with real patients a nurse must tell them apart.
    if (!config.demo)
      io.stderr.write(
        `Note: this is not a demo clinic (VIGIL_DEMO=0): the ${n} simulated patients join its real ones, named "… (simulated)", and their alerts are real alerts.\n`,
      );
    const patients: SimPatient[] = [];
    try {
      for (const v of makeVirtualPatients(n, Number(args.flags.seed ?? Date.now() % 100_000))) {
        const { id } = await clinic.addPatient({
          name: `${v.name} (simulated)`,
          birthDate: v.birthDate,
          sex: v.profile.sex,
          settings: { spo2Scale: v.profile.spo2Scale },
        });
        if (typeof args.flags.clinician === 'string') await clinic.assignClinician(id, args.flags.clinician);
        const devices = [];
        for (const kind of v.deviceKinds) {
          const d = await clinic.addDevice({ patientId: id, type: DEVICE_TYPE_OF[kind] });
          devices.push({ deviceId: d.id, secret: d.secret, kind });
        }
        patients.push({ patientId: id, name: v.name, profile: v.profile, devices, scenario: v.scenario });
      }
    } finally {
      await clinic.close();
    }

    const sim = createSimulator({ mqttUrl, patients, speed });
    await sim.start().catch((err) => {
      throw new CliError(`cannot connect simulated devices to ${mqttUrl}: ${(err as Error).message}`);
    });
    const devices = patients.reduce((s, p) => s + p.devices.length, 0);
    io.stderr.write(`Simulating ${patients.length} patients with ${devices} devices on ${mqttUrl}${speed !== 1 ? ` at ${speed}× speed` : ''}. Ctrl-C stops.\n`);
    const report = setInterval(() => {
      const s = sim.stats();
      io.stderr.write(
        `  ${s.connected}/${s.devices} connected · telemetry ${s.published.telemetry} · ecg ${s.published.ecg} · commands ${s.commands.done}/${s.commands.received}\n`,
      );
    }, STATS_EVERY_MS);
    await new Promise<void>((resolve) => {
      const duration = Number(args.flags.duration);
      if (duration > 0) setTimeout(resolve, duration * 1000);
      process.once('SIGINT', () => resolve());
      process.once('SIGTERM', () => resolve());
    });
    clearInterval(report);
    await sim.stop();
    const stats = sim.stats();
    if (args.json)
      io.stdout.write(
        JSON.stringify({ patients: patients.map((p) => ({ id: p.patientId, name: p.name, devices: p.devices.map((d) => d.deviceId) })), stats }) + '\n',
      );
    else io.stdout.write(`Stopped. Published ${stats.published.telemetry} telemetry and ${stats.published.ecg} ECG messages.\n`);
    return 0;
  },
};
export default command;
