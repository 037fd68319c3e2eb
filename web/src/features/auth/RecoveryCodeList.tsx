/** What recovery codes are for, said the same way wherever new ones are shown (enrolment, account page). */
export function RecoveryCodeAdvice({ lost }: { lost: string }) {
  return (
    <p className="muted">If you lose {lost}, each of these codes signs you in once. Print them or keep them in a password manager; they are not shown again.</p>
  );
}

/** The codes themselves, one per line, for a screen reader as a list. */
export function RecoveryCodeList({ codes }: { codes: string[] }) {
  return (
    <ul className="recovery-codes" aria-label="Recovery codes">
      {codes.map((c) => (
        <li key={c}>
          <code>{c}</code>
        </li>
      ))}
    </ul>
  );
}
