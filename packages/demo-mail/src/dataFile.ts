import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/** A file of this package's data/ folder: the same path from src/ (tests) and dist/esm/ (built, or installed). */
export function dataFile(name: string): string {
  return join(dirname(createRequire(import.meta.url).resolve('@webtier/demo-mail/package.json')), 'data', name);
}
