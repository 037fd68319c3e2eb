import type { Db } from '../../../platform/db.ts';
import { decodeCursor, encodeCursor } from '../search/cursor.ts';
import type { SearchRequest } from '../search/params.ts';
import { SqlParams } from '../search/sql.ts';

/**
 * Search over one small table (patients, practitioners, devices): the caller gives WHERE clauses, this
 * counts, pages by id (keyset) and maps. Rows come back in id order, so paging is stable as rows arrive.
 */
export async function tableSearch<Row extends { id: string }, R>(
  db: Db,
  req: SearchRequest,
  q: { from: string; columns: string; where: (sql: SqlParams) => string[] | null; map: (row: Row) => R },
): Promise<{ resources: R[]; total?: number; next?: string; rows: Row[] }> {
  const build = (sql: SqlParams) => q.where(sql);
  const countOnly = req.summary === 'count';
  let total: number | undefined;
  if (countOnly || req.total !== 'none') {
    const sql = new SqlParams();
    const where = build(sql);
    total =
      where === null
        ? 0
        : Number((await db.query<{ n: string }>(`SELECT count(*) AS n FROM ${q.from} WHERE ${where.join(' AND ') || 'true'}`, sql.values))[0].n);
  }
  if (countOnly) return { resources: [], total, rows: [] };
  const after = decodeCursor(req.cursor, (v): v is { id: string } => typeof (v as { id?: unknown })?.id === 'string');
  const sql = new SqlParams();
  const where = build(sql);
  if (where === null || req.count === 0) return { resources: [], total, rows: [] };
  if (after) where.push(`id > ${sql.p(after.id)}`);
  const rows = await db.query<Row>(
    `SELECT ${q.columns} FROM ${q.from} WHERE ${where.join(' AND ') || 'true'} ORDER BY id LIMIT ${sql.p(req.count + 1)}`,
    sql.values,
  );
  const page = rows.slice(0, req.count);
  const next = rows.length > req.count ? encodeCursor({ id: page.at(-1)!.id }) : undefined;
  return { resources: page.map(q.map), total, next, rows: page };
}

/** LIKE pattern text with its wildcards escaped. */
export const likeEscape = (s: string) => s.replace(/[\\%_]/g, (c) => '\\' + c);

/**
 * R4 string search (§3.1.1.4.7 string: "case- and accent-insensitive"): the value and the column are both
 * decomposed (NFD) and stripped of combining marks, so `fernandez` finds Fernández. `:exact` stays exact.
 */
const accentFold = (v: string) => v.normalize('NFD').replace(/[\u0300-\u036f]/g, '');
const foldedSql = (col: string) => `regexp_replace(normalize(${col}, NFD), '[\\u0300-\\u036f]', '', 'g')`;

/**
 * The `name` search of Patient and Practitioner (a `name` text column), one OR-group per parameter: a word
 * prefix by default, `:contains` a substring (both folded, above), `:exact` the whole name or one whole word.
 */
export function nameSearchSql(p: { modifier?: string; values: string[] }, sql: SqlParams): string {
  const ors = p.values.map((v) => {
    if (p.modifier === 'exact') return `(name = ${sql.p(v)} OR ${sql.p(v)} = ANY(regexp_split_to_array(name, '\\s+')))`;
    const folded = likeEscape(accentFold(v));
    if (p.modifier === 'contains') return `${foldedSql('name')} ILIKE ${sql.p('%' + folded + '%')}`;
    return `(${foldedSql('name')} ILIKE ${sql.p(folded + '%')} OR ${foldedSql('name')} ILIKE ${sql.p('% ' + folded + '%')})`;
  });
  return '(' + ors.join(' OR ') + ')';
}
