import { useState } from 'react';
import { ErrorNote, Loading } from '../../components/Spinner.tsx';
import { useSession } from '../auth/session.ts';
import { useAsync } from '../../lib/useAsync.ts';
import { alertsApi, type AlertRule } from './alertsApi.ts';
import './alerts.css';

/**
 * Alert rules (`#/alerts/rules`): the clinic defaults and care-team / patient overrides, each editable as
 * its JSON definition; the server validates it and saves a new version.
 */
export function RulesPage() {
  const rules = useAsync(() => alertsApi.rules(), []);
  const list = [...(rules.data?.rules ?? [])].sort((a, b) => a.key.localeCompare(b.key) || a.scope.localeCompare(b.scope));
  return (
    <main className="page page-wide">
      <div className="panel-head">
        <div>
          <h1 className="page-title">Alert rules</h1>
          <p className="panel-summary">
            Clinic defaults, overridden per care team and per patient. Every save is a new version; alerts record the version that fired.
          </p>
        </div>
        <div className="panel-tools">
          <a className="btn btn-sm" href="#/alerts">
            ← Inbox
          </a>
        </div>
      </div>
      {rules.error ? <ErrorNote error={rules.error} onRetry={rules.reload} /> : null}
      {!rules.data && !rules.error ? <Loading /> : null}
      <div className="rule-grid">
        {list.map((r) => (
          <RuleCard key={r.id} rule={r} onSaved={rules.reload} />
        ))}
      </div>
    </main>
  );
}

function RuleCard({ rule, onSaved }: { rule: AlertRule; onSaved: () => void }) {
  const { me } = useSession();
  const [editing, setEditing] = useState(false);
  const [text, setText] = useState(() => JSON.stringify(rule.definition, null, 2));
  const [enabled, setEnabled] = useState(rule.enabled);
  const [error, setError] = useState<string | null>(null);
  const canEdit = rule.scope !== 'clinic' || me.role === 'admin';
  const save = async () => {
    setError(null);
    try {
      await alertsApi.saveRule(rule.key, { scope: rule.scope, scopeId: rule.scopeId || undefined, enabled, definition: JSON.parse(text) });
      setEditing(false);
      onSaved();
    } catch (err) {
      setError((err as Error).message);
    }
  };
  return (
    <section className={`card rule-card ${rule.enabled ? '' : 'is-off'}`}>
      <div className="card-head">
        <strong>{rule.key}</strong>
        <span className="pill pill-grey">
          {rule.scope}
          {rule.scopeId ? ` ${rule.scopeId}` : ''}
        </span>
        <span className="muted small">
          v{rule.version} · {String(rule.definition.kind)}
          {rule.enabled ? '' : ' · off'}
        </span>
      </div>
      {editing ? (
        <>
          <textarea
            className="rule-json"
            value={text}
            onChange={(e) => setText(e.target.value)}
            spellCheck={false}
            rows={Math.min(14, text.split('\n').length + 1)}
            aria-label={`${rule.key} definition`}
          />
          <label className="small">
            <input type="checkbox" checked={enabled} onChange={(e) => setEnabled(e.target.checked)} /> enabled
          </label>
          {error ? <p className="form-error small">{error}</p> : null}
          <div className="form-actions">
            <button type="button" className="btn btn-sm" onClick={() => setEditing(false)}>
              Cancel
            </button>
            <button type="button" className="btn btn-sm btn-primary" onClick={() => void save()}>
              Save as v{rule.version + 1}
            </button>
          </div>
        </>
      ) : (
        <>
          <p className="small rule-summary">{summarize(rule)}</p>
          {canEdit ? (
            <button type="button" className="btn btn-sm" onClick={() => setEditing(true)}>
              Edit
            </button>
          ) : (
            <span className="muted small">clinic default (admins edit)</span>
          )}
        </>
      )}
    </section>
  );
}

const CODE_LABEL: Record<string, string> = {
  '59408-5': 'SpO₂',
  '8867-4': 'HR',
  '9279-1': 'RR',
  '8480-6': 'Systolic BP',
  '8462-4': 'Diastolic BP',
  '8310-5': 'Temp',
  '2339-0': 'Glucose',
  '29463-7': 'Weight',
};

function summarize(r: AlertRule): string {
  const d = r.definition as Record<string, unknown>;
  const min = (ms: unknown) => `${Math.round(Number(ms) / 60_000)} min`;
  const code = CODE_LABEL[String(d.code)] ?? String(d.code);
  switch (d.kind) {
    case 'threshold':
      return `${code} ${d.op} ${d.value}${Number(d.forMs) > 0 ? ` for ${min(d.forMs)}` : ''} (clears ${d.op === 'below' ? 'above' : 'below'} ${d.clearAt}) → ${d.severity}`;
    case 'news2':
      return `NEWS2 bands → ${Object.entries(d.bands as object)
        .map(([k, v]) => `${k}: ${v}`)
        .join(', ')}`;
    case 'rate-of-change':
      return `${code} change of ${Number(d.delta) > 0 ? '+' : ''}${d.delta} within ${Math.round(Number(d.windowMs) / 86_400_000)} d → ${d.severity}`;
    case 'glucose':
      return `glucose < ${d.low} warning, < ${d.urgentLow} critical, > ${d.high}, predicted low within ${min(d.predictHorizonMs)}`;
    case 'missing-data':
      return `no data for ${min(d.afterMs)} → ${d.severity}`;
    case 'device-offline':
      return `device offline for ${min(d.forMs)} → ${d.severity}`;
    case 'af':
      return `atrial fibrillation episode on ECG → ${d.severity}`;
    case 'vf':
      return `ventricular fibrillation/flutter on ECG → ${d.severity}`;
    case 'battery-low':
      return `battery below ${d.below} % (clears above ${d.clearAt} %) → ${d.severity}`;
    default:
      return `${String(d.kind)} → ${d.severity}`;
  }
}
