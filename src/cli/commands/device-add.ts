import { requireFlag, type CliCommand } from '../command.ts';
import { openClinic } from '../clinic.ts';
import { print } from '../runtime.ts';
import { DEVICE_TYPES } from '../../devices/device.service.ts';

const command: CliCommand = {
  name: 'device add',
  summary: 'provision a device; prints its id, secret (once) and MQTT topic',
  help: `Usage: vigil device add --patient ID --type TYPE [--name LABEL] [--json]

TYPE: ${DEVICE_TYPES.join(', ')}
Prints {"id","secret","topic"}. The secret is shown once and stored only as a hash: configure the device with
MQTT username = id, password = secret, and publish to the topic (see README → Connecting a device).`,
  async run(args, io) {
    const patientId = requireFlag(args, 'patient');
    const type = requireFlag(args, 'type');
    const clinic = await openClinic();
    try {
      const d = await clinic.addDevice({ patientId, type, name: typeof args.flags.name === 'string' ? args.flags.name : undefined });
      print(
        io,
        args.json,
        { id: d.id, secret: d.secret, topic: d.topic },
        [
          `Device ${d.id} provisioned for ${patientId}.`,
          `  MQTT username: ${d.id}`,
          `  MQTT password: ${d.secret}   (shown once — store it in the device now)`,
          `  Publish to:    ${d.topic}`,
        ].join('\n'),
      );
      return 0;
    } finally {
      await clinic.close();
    }
  },
};
export default command;
