/**
 * "Choose a password" and "again", as every screen that sets a password asks them (invitation, reset).
 * NIST SP 800-63B §5.1.1: up to 128 characters accepted, paste allowed; the browser's password manager
 * recognises `autocomplete="new-password"` and offers a strong one. The caller checks that both agree.
 */
export function NewPasswordFields({
  password,
  again,
  onPassword,
  onAgain,
  labels,
  invalid,
  autoFocus = false,
}: {
  password: string;
  again: string;
  onPassword: (value: string) => void;
  onAgain: (value: string) => void;
  labels: { password: string; again: string };
  invalid: boolean;
  autoFocus?: boolean;
}) {
  return (
    <>
      <label className="field">
        <span>{labels.password}</span>
        <input
          type="password"
          autoComplete="new-password"
          value={password}
          onChange={(e) => onPassword(e.target.value)}
          required
          maxLength={128}
          autoFocus={autoFocus}
          aria-invalid={invalid}
        />
      </label>
      <label className="field">
        <span>{labels.again}</span>
        <input
          type="password"
          autoComplete="new-password"
          value={again}
          onChange={(e) => onAgain(e.target.value)}
          required
          maxLength={128}
          aria-invalid={invalid}
        />
      </label>
    </>
  );
}
