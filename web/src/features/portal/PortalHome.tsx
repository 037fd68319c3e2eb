import { PatientSelfView } from '../patient/PatientSelfView.tsx';
import { useUnread } from '../messages/MessagesPage.tsx';
import { AppointmentsSection } from './AppointmentsSection.tsx';
import { PrivacySection } from '../privacy/PrivacySection.tsx'; // [sec]

/** The patient portal's home (phone first): appointments with Join, messages, then readings and devices. */
export function PortalHome({ patientId }: { patientId: string }) {
  const unread = useUnread();
  return (
    // What an 80-year-old looks for first (visits, messages, readings) comes before the record and privacy settings.
    <PatientSelfView patientId={patientId} after={<PrivacySection patientId={patientId} />}>
      <AppointmentsSection patientId={patientId} />
      <h2 className="self-h2">Messages</h2>
      <p className="portal-messages">
        <a className="btn btn-primary btn-xl" href="#/messages">
          {unread ? `Read your ${unread} new message${unread > 1 ? 's' : ''}` : 'Write to your care team'}
        </a>
      </p>
    </PatientSelfView>
  );
}
