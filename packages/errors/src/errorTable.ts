/**
 * One error table per package, in fastify's `createError(code, message, statusCode)` shape: a table
 * of stable codes (each with the HTTP status it answers with, where the package serves HTTP) and one
 * Error class that carries `code`. Callers match on `err.code`, never on `instanceof`; a call site
 * throws a code and never picks a status.
 */

/** `NAME: 'PKG_ERR_NAME'`, or `NAME: ['PKG_ERR_NAME', httpStatus]` where the package answers HTTP. */
export type ErrorTable = Readonly<Record<string, string | readonly [code: string, statusCode: number]>>;

/** The codes of a table by name: `{ NO_ROUTE: 'GW_ERR_NO_ROUTE', ... }`. */
export type ErrorCodes<T extends ErrorTable> = { readonly [K in keyof T]: T[K] extends readonly [infer C, number] ? C : T[K] };

/** Any one code of a table. */
export type ErrorCodeOf<T extends ErrorTable> = ErrorCodes<T>[keyof T];

/** What an error of a table is created with besides its code and message. */
export interface CodedErrorOptions {
  /** The error this one wraps, kept as `cause`. */
  cause?: unknown;
}

/** An Error with a stable `code` from its package's table. */
export interface CodedError<C extends string> extends Error {
  readonly code: C;
}

/** The Error class of one table: extend it once per package (`class RingError extends ring.Error {}`). */
export type CodedErrorClass<C extends string> = new (code: C, message: string, options?: CodedErrorOptions) => CodedError<C>;

/** What `errorTable` returns: the codes by name, the status of a code, and the package's Error class. */
export interface ErrorTableOf<T extends ErrorTable> {
  readonly codes: ErrorCodes<T>;
  /** The HTTP status the table gives a code; 500 for a code without one. */
  statusOf(code: ErrorCodeOf<T>): number;
  readonly Error: CodedErrorClass<ErrorCodeOf<T> & string>;
}

/**
 * Builds a package's error table. `name` becomes `err.name` (and the class's name), so a stack
 * trace says which package threw.
 *
 * ```ts
 * const table = errorTable('RingError', { EMPTY: 'RING_ERR_EMPTY' });
 * export const RingErrorCodes = table.codes;
 * export class RingError extends table.Error {}
 * throw new RingError(RingErrorCodes.EMPTY, 'the node list is empty: give at least one "host:port"');
 * ```
 */
export function errorTable<const T extends ErrorTable>(name: string, table: T): ErrorTableOf<T> {
  const codes: Record<string, string> = {};
  const status = new Map<string, number>();
  for (const [key, entry] of Object.entries(table)) {
    const [code, statusCode] = typeof entry === 'string' ? [entry, undefined] : entry;
    codes[key] = code;
    if (statusCode !== undefined) status.set(code, statusCode);
  }
  type Code = ErrorCodeOf<T> & string;
  class TableError extends Error implements CodedError<Code> {
    readonly code: Code;
    constructor(code: Code, message: string, options?: CodedErrorOptions) {
      super(message, options?.cause === undefined ? undefined : { cause: options.cause });
      this.name = name;
      this.code = code;
    }
  }
  Object.defineProperty(TableError, 'name', { value: name });
  return {
    codes: Object.freeze(codes) as ErrorCodes<T>,
    statusOf: (code) => status.get(code as string) ?? 500,
    Error: TableError,
  };
}

/**
 * A table of codes named `${prefix}_${KEY}`, for a package whose codes need no comment of their own:
 * `errorCodes('DEMO_ERR', ['BAD_ARGS', 'NOT_RUNNING'])` is `{ BAD_ARGS: 'DEMO_ERR_BAD_ARGS', NOT_RUNNING: 'DEMO_ERR_NOT_RUNNING' }`.
 */
export function errorCodes<const P extends string, const K extends string>(prefix: P, keys: readonly K[]): { readonly [Key in K]: `${P}_${Key}` } {
  return Object.fromEntries(keys.map((k) => [k, `${prefix}_${k}`])) as { readonly [Key in K]: `${P}_${Key}` };
}
