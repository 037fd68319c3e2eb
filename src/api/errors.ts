import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../platform/errors.ts';

const FHIR_ISSUE: Record<number, string> = {
  400: 'invalid',
  401: 'login',
  403: 'forbidden',
  404: 'not-found',
  409: 'conflict',
  412: 'conflict',
  422: 'processing',
  429: 'throttled',
  503: 'transient',
};

/** The one place errors become HTTP answers: JSON on /api, OperationOutcome on /fhir; never a stack or SQL. */
export function toHttpError(err: unknown): { status: number; code: string; message: string } {
  if (err instanceof AppError) return { status: err.status, code: err.code, message: err.message };
  const fe = err as FastifyError;
  if (fe?.validation) return { status: 400, code: 'VALIDATION', message: validationMessage(fe) };
  if (typeof fe?.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500)
    return { status: fe.statusCode, code: fe.code ?? 'BAD_REQUEST', message: fe.message };
  return databaseDataError(err) ?? { status: 500, code: 'INTERNAL', message: 'internal error; see the server log' };
}

/**
 * A safety net under the schemas (issue 9, F13–F18): a value the database itself refuses is the client's
 * input, not a server fault. SQLSTATE class 22 (data exception: out of range, malformed, NUL byte) is a 400;
 * class 23 (integrity: a reference to something that does not exist, a duplicate) a 409. No SQL or value is
 * echoed back; the server log keeps the detail.
 */
function databaseDataError(err: unknown): { status: number; code: string; message: string } | null {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== 'string' || !/^2[23][0-9A-Z]{3}$/.test(code)) return null;
  if (code.startsWith('22')) return { status: 400, code: 'VALIDATION', message: 'a value in the request is out of range or malformed' };
  if (code === '23503') return { status: 409, code: 'CONFLICT', message: 'the request refers to something that does not exist' };
  if (code === '23505') return { status: 409, code: 'CONFLICT', message: 'that already exists' };
  return { status: 409, code: 'CONFLICT', message: 'the request conflicts with stored data' };
}

/** "body.email: Invalid input…": where (body, querystring, params) and which field, then what is wrong. */
function validationMessage(fe: FastifyError): string {
  const where = fe.validationContext ?? 'request';
  return fe
    .validation!.slice(0, 3)
    .map((v) => {
      const field = v.instancePath.replace(/^\//, '').replaceAll('/', '.');
      return `${where}${field ? '.' + field : ''}: ${v.message ?? 'invalid'}`;
    })
    .join('; ');
}

export function operationOutcome(status: number, message: string) {
  return {
    resourceType: 'OperationOutcome',
    issue: [{ severity: status >= 500 ? 'fatal' : 'error', code: FHIR_ISSUE[status] ?? 'exception', diagnostics: message }],
  };
}

export function errorHandler(err: unknown, req: FastifyRequest, reply: FastifyReply) {
  const e = toHttpError(err);
  if (e.status >= 500) req.log.error({ err }, 'request failed');
  else if (databaseDataError(err)) req.log.warn({ err }, 'the database refused a value from the request');
  if (req.url.startsWith('/fhir')) return reply.status(e.status).type('application/fhir+json').send(operationOutcome(e.status, e.message));
  return reply.status(e.status).send({ error: { code: e.code, message: e.message } });
}
