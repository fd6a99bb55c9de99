/** The fixed set of error codes that cross the UI/core boundary. */
export const errorCodes = [
  'VALIDATION',
  'NOT_FOUND',
  'CONFLICT',
  'IO',
  'UNSUPPORTED_IMAGE',
  'BACKEND_UNAVAILABLE',
  'CANCELLED',
  'NO_PROJECT',
  'SCHEMA_TOO_NEW',
  'READ_ONLY',
  'UNAUTHORIZED',
  'INTERNAL',
] as const;

/** One of the fixed error codes. */
export type ErrorCode = (typeof errorCodes)[number];

/** The one error shape shown to people: a code to branch on, a message to read, details to inspect. */
export interface ErrorInfo {
  code: ErrorCode;
  message: string;
  details?: unknown;
}

/** An error that carries its code across every boundary (IPC, WebSocket, CLI exit). */
export class LoupeError extends Error {
  readonly code: ErrorCode;
  readonly details: unknown;

  constructor(code: ErrorCode, message: string, details?: unknown) {
    super(message);
    this.name = 'LoupeError';
    this.code = code;
    this.details = details;
  }

  /** The plain-data form that survives structured clone and JSON. */
  toInfo(): ErrorInfo {
    return this.details === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, details: this.details };
  }
}

/** Every reply is wrapped so that custom error fields survive transports that strip them. */
export type Reply<T> = { ok: true; value: T } | { ok: false; error: ErrorInfo };

/** Turns anything thrown into the shared error shape; unknown errors become INTERNAL. */
export function toErrorInfo(error: unknown): ErrorInfo {
  if (error instanceof LoupeError) return error.toInfo();
  if (isErrorInfo(error)) return error;
  const message = error instanceof Error ? error.message : String(error);
  return { code: 'INTERNAL', message };
}

/** True for a value that already has the shared error shape. */
export function isErrorInfo(value: unknown): value is ErrorInfo {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as ErrorInfo).code === 'string' &&
    (errorCodes as readonly string[]).includes((value as ErrorInfo).code) &&
    typeof (value as ErrorInfo).message === 'string'
  );
}
