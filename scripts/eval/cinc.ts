/** CinC 2017 part of the evaluation harness (filled in with the classifier). */
export async function evaluateCinc(_dir: string) {
  return { status: 'not yet implemented' };
}
export function cincMarkdown(_r: unknown): string {
  return '## CinC 2017 classification\n\nnot yet implemented';
}
