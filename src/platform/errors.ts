/**
 * Coded errors: every failure a user or client can meet carries a stable code and an HTTP status.
 * One handler (api/errors.ts) maps them to JSON or a FHIR OperationOutcome; nothing else leaks.
 */
export const ERRORS = {
  BAD_REQUEST: 400,
  VALIDATION: 400,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  /** An If-Match version that is no longer current (optimistic concurrency, RFC 9110 §13.1.1). */
  PRECONDITION_FAILED: 412,
  PAYLOAD_REJECTED: 422,
  TOO_MANY: 429,
  UNAVAILABLE: 503,
} as const;

export type ErrorCode = keyof typeof ERRORS;

export class AppError extends Error {
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.status = ERRORS[code];
  }
  /** One line for people (CLI, logs). */
  get userMessage(): string {
    return this.message;
  }
}

export const notFound = (what: string) => new AppError('NOT_FOUND', `${what} not found`);
export const forbidden = (why = 'not allowed') => new AppError('FORBIDDEN', why);
export const badRequest = (why: string, details?: unknown) => new AppError('BAD_REQUEST', why, details);
