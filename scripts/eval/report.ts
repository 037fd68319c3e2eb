/** Formatting helpers for the evaluation harness: percentages and Markdown tables. */
export const pct = (x: number, digits = 2): string => (Number.isFinite(x) ? (x * 100).toFixed(digits) : '—');

export function table(head: string[], rows: Array<Array<string | number>>): string {
  const line = (cells: Array<string | number>) => `| ${cells.join(' | ')} |`;
  return [line(head), line(head.map(() => '---')), ...rows.map(line)].join('\n');
}

/** One-line progress on stderr (overwritten in place on a terminal). */
export function progress(label: string, done: number, total: number): void {
  const tty = process.stderr.isTTY;
  const text = `${label} ${done}/${total}`;
  process.stderr.write(tty ? `\r${text}${done === total ? '\n' : ''}` : done === total || done % 5 === 0 ? `${text}\n` : '');
}
