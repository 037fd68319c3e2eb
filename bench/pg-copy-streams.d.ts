/** pg-copy-streams ships no types: the one function the benchmarks use (COPY … FROM STDIN as a writable query). */
declare module 'pg-copy-streams' {
  import type { Submittable } from 'pg';
  import type { Writable } from 'node:stream';
  export function from(sql: string): Writable & Submittable;
}
