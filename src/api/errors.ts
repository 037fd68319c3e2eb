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
  return { status: 500, code: 'INTERNAL', message: 'internal error; see the server log' };
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
  if (req.url.startsWith('/fhir')) return reply.status(e.status).type('application/fhir+json').send(operationOutcome(e.status, e.message));
  return reply.status(e.status).send({ error: { code: e.code, message: e.message } });
}
