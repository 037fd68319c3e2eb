/**
 * PostgreSQL SQLSTATE classes (PostgreSQL docs, Appendix A) that mean "this row's data was refused", as
 * opposed to "the database is unavailable": 22 data exception (e.g. 22021 a NUL byte in text, 22008 a
 * timestamp out of range), 23 integrity constraint violation, 54 program limit exceeded. Retrying such a
 * row can never succeed, so it is isolated and dead-lettered; any other failure is retried by the sender.
 * PGlite raises the same codes as the server.
 */
export function isDataError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^(22|23|54)/.test(code);
}
