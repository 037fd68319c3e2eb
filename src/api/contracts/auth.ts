import { z } from 'zod';
import { Role } from './common.ts';

export const LoginBody = z.object({ email: z.string().min(1).max(320), password: z.string().min(1).max(1024) });

/** 'mfa': the password was right, the second factor is next; 'enrol': one must be set up first (ONC §170.315(d)(13)). */
export const SignInStage = z.enum(['full', 'mfa', 'enrol']);
export type SignInStage = z.infer<typeof SignInStage>;

export const Me = z
  .object({
    id: z.string(),
    email: z.string(),
    role: Role,
    displayName: z.string(),
    patientId: z.string().nullable(),
    stage: SignInStage.optional(),
    /** How this request is signed in: a session cookie or an API token. */
    via: z.enum(['session', 'token']).nullable().optional(),
  })
  .meta({ id: 'Me' });
export type Me = z.infer<typeof Me>;

export const LoginResponse = z.object({ user: Me, stage: SignInStage.optional() });

export const DemoInfo = z.object({ logins: z.array(z.object({ email: z.string(), password: z.string(), role: z.string().optional() })) });
export type DemoInfo = z.infer<typeof DemoInfo>;

/** An alert email caught by the demo clinic's local mailbox. */
export const DemoMail = z.object({
  to: z.array(z.string()),
  from: z.string(),
  messageId: z.string(),
  subject: z.string(),
  receivedAt: z.string(),
  text: z.string(),
});
export type DemoMail = z.infer<typeof DemoMail>;
