import { useSyncExternalStore } from 'react';
import { smartReturnPath } from '@contracts';

/** Hash routes: `#/`, `#/patients/:id`, `#/devices`, `#/admin`. */
export type Route =
  | { name: 'panel' }
  | { name: 'patient'; id: string }
  | { name: 'devices' }
  | { name: 'admin' }
  | { name: 'alerts' } // [alerts]
  | { name: 'alert-rules' } // [alerts]
  | { name: 'messages'; threadId?: string; patientId?: string; messageId?: string } // [tele]
  | { name: 'tasks'; patientId?: string } // [tele]
  | { name: 'schedule' } // [tele]
  | { name: 'visit'; id: string } // [tele]
  | { name: 'guest-visit'; id: string; token: string } // [tele]
  | { name: 'account' } // [sec]
  /** `returnTo`: a SMART app's pending request, kept so that "Back to sign in" still returns to it (issue 10). */
  | { name: 'forgot-password'; returnTo: string | null } // [sec]
  | { name: 'reset-password'; token: string } // [sec]
  | { name: 'caregiver-invite'; token: string } // [sec]
  /** Signing in for a SMART app (issue 10): `returnTo` is the app's /oauth/authorize request, or null if not a safe one. */
  | { name: 'sign-in'; returnTo: string | null }
  | { name: 'not-found'; path: string };

export function parseRoute(hash: string): Route {
  const path = hash.replace(/^#/, '') || '/';
  if (path === '/' || path === '') return { name: 'panel' };
  const patient = /^\/patients\/([^/?#]+)\/?$/.exec(path);
  if (patient) return { name: 'patient', id: decodeURIComponent(patient[1]) };
  if (path === '/devices') return { name: 'devices' };
  if (path === '/admin') return { name: 'admin' };
  // [sec] account security; signed-out pages: forgotten password, the emailed reset link, a caregiver invite
  if (path === '/account') return { name: 'account' };
  const forgot = /^\/forgot-password\/?(?:\?(.*))?$/.exec(path);
  if (forgot) return { name: 'forgot-password', returnTo: smartReturnPath(new URLSearchParams(forgot[1] ?? '').get('return')) };
  const signIn = /^\/sign-in\/?(?:\?(.*))?$/.exec(path);
  if (signIn) return { name: 'sign-in', returnTo: smartReturnPath(new URLSearchParams(signIn[1] ?? '').get('return')) };
  const reset = /^\/reset-password\/([A-Za-z0-9_-]+)\/?$/.exec(path);
  if (reset) return { name: 'reset-password', token: reset[1] };
  const invite = /^\/invite\/([A-Za-z0-9_-]+)\/?$/.exec(path);
  if (invite) return { name: 'caregiver-invite', token: invite[1] };
  if (path === '/alerts') return { name: 'alerts' }; // [alerts]
  if (path === '/alerts/rules') return { name: 'alert-rules' }; // [alerts]
  // [tele] messages, video visits, guest links
  const messages = /^(?:\/patients\/([^/?#]+))?\/messages(?:\/([^/?#]+)(?:\/([^/?#]+))?)?\/?$/.exec(path);
  if (messages) {
    const [, patientId, threadId, messageId] = messages.map((m) => (m ? decodeURIComponent(m) : undefined));
    return { name: 'messages', patientId, threadId, ...(messageId ? { messageId } : {}) };
  }
  if (path === '/schedule') return { name: 'schedule' }; // [tele]
  const tasks = /^(?:\/patients\/([^/?#]+))?\/tasks\/?$/.exec(path);
  if (tasks) return { name: 'tasks', patientId: tasks[1] ? decodeURIComponent(tasks[1]) : undefined };
  const visit = /^\/visits\/([^/?#]+)\/?$/.exec(path);
  if (visit) return { name: 'visit', id: decodeURIComponent(visit[1]) };
  const join = /^\/join\/([^/?#]+)\/([^/?#]+)\/?$/.exec(path);
  if (join) return { name: 'guest-visit', id: decodeURIComponent(join[1]), token: join[2] };
  return { name: 'not-found', path };
}

function subscribe(cb: () => void): () => void {
  window.addEventListener('hashchange', cb);
  return () => window.removeEventListener('hashchange', cb);
}

export function useRoute(): Route {
  const hash = useSyncExternalStore(subscribe, () => window.location.hash);
  return parseRoute(hash);
}

export function href(route: Route): string {
  switch (route.name) {
    case 'panel':
      return '#/';
    case 'patient':
      return `#/patients/${encodeURIComponent(route.id)}`;
    case 'devices':
      return '#/devices';
    case 'admin':
      return '#/admin';
    case 'alerts':
      return '#/alerts'; // [alerts]
    case 'alert-rules':
      return '#/alerts/rules'; // [alerts]
    case 'messages':
      return `#${route.patientId ? `/patients/${encodeURIComponent(route.patientId)}` : ''}/messages${route.threadId ? `/${encodeURIComponent(route.threadId)}${route.messageId ? `/${encodeURIComponent(route.messageId)}` : ''}` : ''}`; // [tele]
    case 'schedule':
      return '#/schedule'; // [tele]
    case 'tasks':
      return `#${route.patientId ? `/patients/${encodeURIComponent(route.patientId)}` : ''}/tasks`; // [tele]
    case 'visit':
      return `#/visits/${encodeURIComponent(route.id)}`; // [tele]
    case 'guest-visit':
      return `#/join/${encodeURIComponent(route.id)}/${route.token}`; // [tele]
    case 'account':
      return '#/account'; // [sec]
    case 'forgot-password':
      return `#/forgot-password${route.returnTo ? `?${new URLSearchParams({ return: route.returnTo })}` : ''}`;
    case 'reset-password':
      return `#/reset-password/${route.token}`;
    case 'caregiver-invite':
      return `#/invite/${route.token}`;
    case 'sign-in':
      return `#/sign-in${route.returnTo ? `?${new URLSearchParams({ return: route.returnTo })}` : ''}`;
    case 'not-found':
      return `#${route.path}`;
  }
}
