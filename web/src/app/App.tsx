import type { ReactNode } from 'react';
import { useCallback, useEffect, useMemo, useState } from 'react';
import { api, ApiError, onUnauthorized } from '../api/client.ts';
import { LiveStream, streamUrl } from '../api/liveStream.ts';
import type { Me } from '@contracts';
import { LiveStreamContext, useLiveStream } from '../api/useLiveStream.ts';
import { ErrorNote, Loading } from '../components/Spinner.tsx';
import { Logo } from '../components/Logo.tsx';
import { AdminPage } from '../features/admin/AdminPage.tsx';
import { AlertsPage } from '../features/alerts/AlertsPage.tsx'; // [alerts]
import { RulesPage } from '../features/alerts/RulesPage.tsx'; // [alerts]
import { LoginPage } from '../features/auth/LoginPage.tsx';
import { CodeStep, EnrolStep } from '../features/auth/SecondFactor.tsx';
import { SessionContext, useSession, type Session } from '../features/auth/session.ts';
import { DevicesPage } from '../features/devices/DevicesPage.tsx';
import { AccountSecurity } from '../features/security/AccountSecurity.tsx'; // [sec]
import { ForgotPasswordPage, ResetPasswordPage } from '../features/auth/PasswordReset.tsx'; // [sec]
import { CaregiverInvitePage } from '../features/auth/CaregiverInvitePage.tsx'; // [sec]
import { PanelPage } from '../features/panel/PanelPage.tsx';
import { PatientPage } from '../features/patient/PatientPage.tsx';
import { TopBar } from './TopBar.tsx';
import { useRoute } from './router.ts';
import { MessagesPage } from '../features/messages/MessagesPage.tsx'; // [tele]
import { VisitPage } from '../features/visits/VisitPage.tsx'; // [tele]
import { GuestVisitPage } from '../features/visits/GuestVisitPage.tsx'; // [tele]
import { PortalHome } from '../features/portal/PortalHome.tsx'; // [tele]
import { TasksPage } from '../features/tasks/TasksPage.tsx'; // [tele]
import { SchedulePage } from '../features/visits/SchedulePage.tsx'; // [tele]
import { WaitingRoomNotice } from '../features/visits/WaitingRoomNotice.tsx'; // [tele]

type Auth = { state: 'checking' } | { state: 'signed-out' } | { state: 'signed-in'; me: Me } | { state: 'error'; error: Error };

export function App() {
  // [tele] a guest with a one-time visit link has no account: the guest page needs no sign-in.
  const route = useRoute();
  if (route.name === 'guest-visit') return <GuestVisitPage appointmentId={route.id} token={route.token} />;
  // [sec] pages reached from an email, signed in or not: a forgotten password and its one-time link
  if (route.name === 'forgot-password') return <ForgotPasswordPage returnTo={route.returnTo} />;
  if (route.name === 'reset-password') return <ResetPasswordPage token={route.token} />;
  if (route.name === 'caregiver-invite') return <CaregiverInvitePage token={route.token} />;
  return <SignedInApp />;
}

function SignedInApp() {
  // [sec] signing in for a SMART app (issue 10): once fully signed in, back to its authorization request.
  const route = useRoute();
  const returnTo = route.name === 'sign-in' ? route.returnTo : null;
  const [auth, setAuth] = useState<Auth>({ state: 'checking' });
  // Whether the user signed in on this page (a password, passkey or second step here): only then does the browser go
  // back to the app's request by itself. Already signed in when the page loaded, it asks first (found by review: a
  // link from another site opened a live consent screen with no click, SameSite cookies notwithstanding).
  const [signedInHere, setSignedInHere] = useState(false);
  const check = useCallback(() => {
    setAuth({ state: 'checking' });
    api.me().then(
      (me) => setAuth({ state: 'signed-in', me }),
      (err: unknown) =>
        setAuth(err instanceof ApiError && (err.status === 401 || err.status === 403) ? { state: 'signed-out' } : { state: 'error', error: err as Error }),
    );
  }, []);
  useEffect(check, [check]);
  useEffect(() => onUnauthorized(() => setAuth({ state: 'signed-out' })), []);

  if (auth.state === 'checking') return <Loading label="Starting Vigil…" />;
  if (auth.state === 'error')
    return (
      <main className="page">
        <ErrorNote error={auth.error} onRetry={check} />
      </main>
    );
  const signedIn = (me: Me) => {
    setSignedInHere(true);
    setAuth({ state: 'signed-in', me });
  };
  if (auth.state === 'signed-out') return <LoginPage returnTo={returnTo} onSignedIn={signedIn} />;
  // [sec] a correct password is not enough for clinic accounts: the second factor, or its set-up, comes next.
  if (auth.me.stage === 'mfa' || auth.me.stage === 'enrol') {
    const cancel = () =>
      void api
        .logout()
        .catch(() => undefined)
        .then(() => setAuth({ state: 'signed-out' }));
    return auth.me.stage === 'mfa' ? (
      <CodeStep me={auth.me} onDone={signedIn} onCancel={cancel} forApp={!!returnTo} />
    ) : (
      <EnrolStep me={auth.me} onDone={signedIn} onCancel={cancel} forApp={!!returnTo} />
    );
  }
  if (returnTo && signedInHere) return <BackToApp to={returnTo} />;
  if (returnTo)
    return (
      <ContinueToApp
        me={auth.me}
        to={returnTo}
        onOtherAccount={() =>
          void api
            .logout()
            .catch(() => undefined)
            .then(() => setAuth({ state: 'signed-out' }))
        }
      />
    );
  return <SignedIn me={auth.me} onSignedOut={() => setAuth({ state: 'signed-out' })} />;
}

/**
 * Fully signed in for a SMART app: the browser goes back to the app's request (`to`, checked by
 * smartReturnPath: a relative /oauth/authorize path only), where the consent screen asks about the app.
 */
function BackToApp({ to }: { to: string }) {
  useEffect(() => {
    window.location.replace(to);
  }, [to]);
  return <Loading label="Signed in. Going back to the app…" />;
}

/**
 * Already signed in when the page loaded, for a SMART app: who is signed in, and a choice (on a shared clinic
 * computer someone else may still be signed in; found by review: it went on as them without a word).
 */
function ContinueToApp({ me, to, onOtherAccount }: { me: Me; to: string; onOtherAccount: () => void }) {
  return (
    <main className="login">
      <section className="login-card" aria-labelledby="continue-title" aria-describedby="continue-who">
        <Logo size={36} />
        <h1 id="continue-title">Continue to the app?</h1>
        <p id="continue-who">
          An app asked to use your Vigil account. You are signed in as <strong>{me.displayName}</strong> ({me.email}).
        </p>
        <div className="continue-actions">
          <button type="button" className="btn btn-primary btn-block" onClick={() => window.location.replace(to)}>
            Continue as {me.displayName}
          </button>
          <button type="button" className="btn btn-block" onClick={onOtherAccount}>
            Use another account
          </button>
        </div>
      </section>
    </main>
  );
}

function SignedIn({ me, onSignedOut }: { me: Me; onSignedOut: () => void }) {
  const stream = useMemo(() => new LiveStream(streamUrl()), []);
  useEffect(() => {
    stream.start();
    return () => stream.stop();
  }, [stream]);
  const session = useMemo<Session>(
    () => ({
      me,
      logout: async () => {
        try {
          await api.logout();
        } catch {
          /* signed out locally either way */
        }
        stream.stop();
        window.location.hash = '#/';
        onSignedOut();
      },
    }),
    [me, stream, onSignedOut],
  );
  return (
    <SessionContext.Provider value={session}>
      <LiveStreamContext.Provider value={stream}>
        <Shell />
      </LiveStreamContext.Provider>
    </SessionContext.Provider>
  );
}

function Shell() {
  const route = useRoute();
  const connection = useLiveStream();
  const { me } = useSession();
  let page: ReactNode;
  if (route.name === 'account')
    page = <AccountSecurity />; // [sec]
  else if (route.name === 'messages')
    page = <MessagesPage threadId={route.threadId} messageId={route.messageId} patientId={me.role === 'patient' ? undefined : route.patientId} />; // [tele]
  else if (route.name === 'visit')
    page = <VisitPage key={route.id} appointmentId={route.id} />; // [tele]
  else if (me.role === 'patient') {
    page = me.patientId ? (
      <PortalHome patientId={me.patientId} />
    ) : (
      <main className="page">
        <p>Your account is not linked to a patient record yet. Please contact your care team.</p>
      </main>
    );
  } else if (route.name === 'tasks')
    page = me.role === 'clinician' || me.role === 'admin' ? <TasksPage key={route.patientId ?? ''} patientId={route.patientId} /> : <NotFound />; // [tele]
  else if (route.name === 'schedule')
    page = me.role === 'clinician' || me.role === 'admin' ? <SchedulePage /> : <NotFound />; // [tele]
  else if (route.name === 'patient') page = <PatientPage key={route.id} patientId={route.id} />;
  else if (route.name === 'devices') page = <DevicesPage />;
  else if (route.name === 'admin') page = me.role === 'admin' ? <AdminPage /> : <NotFound />;
  else if (route.name === 'alerts')
    page = <AlertsPage />; // [alerts]
  else if (route.name === 'alert-rules')
    page = <RulesPage />; // [alerts]
  else if (route.name === 'panel' || route.name === 'sign-in') page = <PanelPage />;
  else page = <NotFound />;
  return (
    <div className={`app role-${me.role}`}>
      <TopBar route={route} connection={connection} />
      {me.role === 'clinician' || me.role === 'admin' ? <WaitingRoomNotice /> : null}
      {page}
    </div>
  );
}

function NotFound() {
  return (
    <main className="page">
      <h1>Page not found</h1>
      <p>
        <a href="#/">Back to patients</a>
      </p>
    </main>
  );
}
