import { AppError, badRequest } from '../../../platform/errors.ts';

/** The name of a Patient or Practitioner body: the first HumanName with a text or family/given (R4 HumanName). */
export function nameOf(body: Record<string, unknown>, type: string): string {
  const names = Array.isArray(body.name) ? (body.name as Array<Record<string, unknown>>) : [];
  const n = names.find((x) => x && (typeof x.text === 'string' || typeof x.family === 'string' || Array.isArray(x.given)));
  const given = Array.isArray(n?.given) ? (n.given as unknown[]).filter((g): g is string => typeof g === 'string') : [];
  const name = (typeof n?.text === 'string' ? n.text : [...given, typeof n?.family === 'string' ? n.family : ''].join(' ')).trim();
  if (!name || name.length > 200) throw badRequest(`${type}.name needs a text or family/given (at most 200 characters)`);
  return name;
}

/** If-Match (R4 §3.1.0.4.2): the version the client last read must still be current, else 412. */
export function ifMatchCheck(what: string, ifMatch: number | undefined, version: number): void {
  if (ifMatch !== undefined && ifMatch !== version)
    throw new AppError('PRECONDITION_FAILED', `If-Match names version ${ifMatch}, but ${what} is at version ${version}: read it again and re-apply the change`);
}
