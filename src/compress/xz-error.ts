import { MenderDeltaError } from "../errors.js";

/** What kind of problem an xz stream has; lets callers word their own context around it. */
export type XzErrorKind =
  /** The input ends in the middle of a stream. */
  | "truncated"
  /** Bytes that cannot be valid xz / LZMA2 data (damaged file, wrong file). */
  | "corrupt"
  /** An integrity check (CRC32, CRC64, SHA-256) or the index does not match the data. */
  | "check"
  /** Valid xz that uses a feature this decoder does not implement (BCJ/delta filters, odd check types). */
  | "unsupported"
  /** The stream needs more memory than the decoder was allowed (dictionary size). */
  | "limit";

/** Any failure decoding xz data. `offset` is the position in the compressed input where it was found. */
export class XzError extends MenderDeltaError {
  readonly kind: XzErrorKind;
  readonly offset: number;
  constructor(kind: XzErrorKind, offset: number, message: string) {
    super(message);
    this.kind = kind;
    this.offset = offset;
  }
}
