export { PktmarkError, isPktmarkError } from '../codecs/errors.js';
export type { ErrorCode, PktmarkErrorDetails } from '../codecs/errors.js';
