import type { CreatedDevice } from '@contracts';
import { CopyButton } from '../../components/CopyButton.tsx';

const MQTT_PORT = 1883; // embedded broker default (VIGIL_MQTT_PORT)

/** The new device's credentials; the secret is shown here once and never again. */
export function DeviceSecret({ device }: { device: CreatedDevice }) {
  const host = window.location.hostname || 'localhost';
  const mqtt = [
    `mosquitto_pub -h ${host} -p ${MQTT_PORT}`,
    `  -i ${device.id} -u ${device.id}`,
    `  -P '${device.secret}'`,
    `  -t '${device.topic}'`,
    `  -m '{"hr": 72, "spo2": 97}'`,
  ].join(' \\\n');
  const http = [
    `curl -X POST`,
    `  ${window.location.origin}/api/v1/devices/${device.id}/telemetry`,
    `  -H 'Authorization: Bearer ${device.secret}'`,
    `  -H 'content-type: application/json'`,
    `  -d '{"hr": 72, "spo2": 97}'`,
  ].join(' \\\n');
  return (
    <div className="secret">
      <p className="secret-warning" role="alert">
        <strong>Copy the secret now.</strong> Vigil stores only a hash of it; if it is lost, add the device again.
      </p>
      <Field label="Device ID" value={device.id} />
      <Field label="Secret" value={device.secret} secret />
      <Field label="MQTT topic" value={device.topic} />
      <h3 className="sub">Send a test reading over MQTT</h3>
      <Code text={mqtt} />
      <h3 className="sub">…or over HTTP</h3>
      <Code text={http} />
    </div>
  );
}

function Field({ label, value, secret = false }: { label: string; value: string; secret?: boolean }) {
  return (
    <div className="kv">
      <span className="kv-label">{label}</span>
      <code className={`kv-value ${secret ? 'is-secret' : ''}`}>{value}</code>
      <CopyButton text={value} />
    </div>
  );
}

function Code({ text }: { text: string }) {
  return (
    <div className="codeblock">
      <CopyButton text={text.replace(/ \\\n\s*/g, ' ')} />
      <pre>{text}</pre>
    </div>
  );
}
