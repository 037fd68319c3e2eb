/**
 * The one way a form or screen says what went wrong: announced at once by screen readers (role="alert",
 * WCAG 4.1.3), nothing rendered when there is nothing to say. `tone` picks the look: "form" under a form's
 * fields, "inline" in a screen's flow (visits, messages, appointments); `small` for compact panels.
 */
export function FormError({
  message,
  tone = 'form',
  small = false,
  id,
}: {
  message: string | null | undefined;
  tone?: 'form' | 'inline';
  small?: boolean;
  /** For the field's aria-describedby, so the error is read again with the field. */
  id?: string;
}) {
  if (!message) return null;
  const className = `${tone === 'form' ? 'form-error' : 'visit-error'}${small ? ' small' : ''}`;
  return (
    <p className={className} role="alert" id={id}>
      {message}
    </p>
  );
}
