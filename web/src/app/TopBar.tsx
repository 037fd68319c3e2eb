import { useEffect, useRef, useState } from 'react';
import type { StreamStatus } from '../api/liveStream.ts';
import { Logo } from '../components/Logo.tsx';
import { useSession } from '../features/auth/session.ts';
import { AlertBadge } from '../features/alerts/AlertBadge.tsx'; // [alerts]
import { href, type Route } from './router.ts';
import { useServerOutdated } from '../api/useLiveStream.ts';
import { useUnread } from '../features/messages/MessagesPage.tsx'; // [tele]

const CONNECTION_LABEL: Record<StreamStatus, string> = { open: 'Live', connecting: 'Reconnecting…', closed: 'Offline' };

export function TopBar({ route, connection }: { route: Route; connection: StreamStatus }) {
  const { me } = useSession();
  // [sec] a caregiver (family member) reads the patients who invited them: no staff screens (alerts, devices).
  const staff = me.role === 'admin' || me.role === 'clinician';
  const links: { route: Route; label: string; show: boolean }[] = [
    { route: { name: 'panel' }, label: 'Patients', show: me.role !== 'patient' },
    { route: { name: 'alerts' }, label: 'Alerts', show: staff }, // [alerts]
    { route: { name: 'panel' }, label: 'Home', show: me.role === 'patient' }, // [tele]
    { route: { name: 'messages' }, label: 'Messages', show: true }, // [tele]
    { route: { name: 'tasks' }, label: 'Tasks', show: me.role !== 'patient' && me.role !== 'caregiver' }, // [tele]
    { route: { name: 'schedule' }, label: 'Schedule', show: me.role === 'clinician' }, // [tele]
    { route: { name: 'devices' }, label: 'Devices', show: staff },
    { route: { name: 'admin' }, label: 'Admin', show: me.role === 'admin' },
  ];
  const current = route.name === 'patient' ? 'panel' : route.name === 'alert-rules' ? 'alerts' : route.name; // [alerts]
  const unread = useUnread(); // [tele]
  const outdated = useServerOutdated();
  return (
    <header className="topbar">
      <a href="#/" className="topbar-brand" aria-label="Vigil home">
        <Logo />
      </a>
      <nav className="topbar-nav" aria-label="Main">
        {links
          .filter((l) => l.show)
          .map((l) => (
            <a
              key={l.label}
              href={href(l.route)}
              className={current === l.route.name ? 'is-current' : ''}
              aria-current={current === l.route.name ? 'page' : undefined}
            >
              {l.label}
              {l.route.name === 'messages' && unread ? (
                <span className="pill pill-amber nav-count" aria-label={`${unread} unread`}>
                  {unread}
                </span>
              ) : null}
            </a>
          ))}
      </nav>
      {staff ? <AlertBadge /> : null}
      {/* [alerts] */}
      <span className={`conn conn-${connection}`} title="Live data connection">
        <span className="conn-dot" aria-hidden="true" />
        {CONNECTION_LABEL[connection]}
      </span>
      {outdated ? (
        // The server was updated while this page stayed open: offer the new version rather than misread its messages.
        <button type="button" className="btn btn-primary topbar-update" onClick={() => window.location.reload()}>
          Vigil was updated · Reload
        </button>
      ) : null}
      <UserMenu />
    </header>
  );
}

function UserMenu() {
  const { me, logout } = useSession();
  const [open, setOpen] = useState(false);
  const ref = useRef<HTMLDivElement>(null);
  const button = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    if (!open) return;
    const close = (e: MouseEvent) => {
      if (!ref.current?.contains(e.target as Node)) setOpen(false);
    };
    const esc = (e: KeyboardEvent) => {
      if (e.key !== 'Escape') return;
      setOpen(false);
      button.current?.focus(); // back where the keyboard user was
    };
    document.addEventListener('mousedown', close);
    document.addEventListener('keydown', esc);
    return () => {
      document.removeEventListener('mousedown', close);
      document.removeEventListener('keydown', esc);
    };
  }, [open]);
  const initials = me.displayName
    .split(/\s+/)
    .map((w) => w[0])
    .filter(Boolean)
    .slice(0, 2)
    .join('')
    .toUpperCase();
  return (
    <div className="user-menu" ref={ref}>
      {/* A disclosure (button + aria-expanded + aria-controls), not an ARIA menu: a menu promises arrow-key
          navigation, which this short list does not need (found by review: role=menu without it). */}
      <button type="button" ref={button} className="user-btn" onClick={() => setOpen((o) => !o)} aria-expanded={open} aria-controls="user-menu">
        <span className="avatar" aria-hidden="true">
          {initials || '?'}
        </span>
        <span className="user-name">{me.displayName}</span>
        <svg width="10" height="10" viewBox="0 0 10 10" aria-hidden="true">
          <path d="M2 4l3 3 3-3" fill="none" stroke="currentColor" strokeWidth="1.5" />
        </svg>
      </button>
      {open ? (
        <div className="menu" id="user-menu">
          <div className="menu-head">
            <strong>{me.displayName}</strong>
            <span className="muted small">{me.email}</span>
            <span className="role-pill">{me.role}</span>
          </div>
          <a className="menu-item" href="#/account" onClick={() => setOpen(false)}>
            Account security
          </a>
          {/* [sec] */}
          <button type="button" className="menu-item" onClick={() => void logout()}>
            Sign out
          </button>
        </div>
      ) : null}
    </div>
  );
}
