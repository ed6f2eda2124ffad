/** Placeholder replaced below. */
export async function runDemo(_o: { argv: string[] }): Promise<number> {
  process.stderr.write('demo: not built yet\n');
  return 1;
}
