/**
 * The LZMA probability model's layout, shared by the decoder and the encoder: every adaptive
 * probability lives in one Uint16Array at these offsets (11-bit probabilities, initial value
 * PROB_INIT = one half).
 */
export const NUM_STATES = 12;
export const POS_STATES_MAX = 16;
export const IS_MATCH = 0;
export const IS_REP = IS_MATCH + NUM_STATES * POS_STATES_MAX;
export const IS_REP0 = IS_REP + NUM_STATES;
export const IS_REP1 = IS_REP0 + NUM_STATES;
export const IS_REP2 = IS_REP1 + NUM_STATES;
export const IS_REP0_LONG = IS_REP2 + NUM_STATES;
export const DIST_SLOT = IS_REP0_LONG + NUM_STATES * POS_STATES_MAX; // 4 length states x 64 slots
export const DIST_SPECIAL = DIST_SLOT + 4 * 64; // distances 4..127: 114 reverse bit-tree probabilities
export const DIST_ALIGN = DIST_SPECIAL + 114;
// A length coder: choice, choice2, low[16][8], mid[16][8], high[256].
export const LEN_CHOICE2 = 1;
export const LEN_LOW = 2;
export const LEN_MID = LEN_LOW + POS_STATES_MAX * 8;
export const LEN_HIGH = LEN_MID + POS_STATES_MAX * 8;
export const LEN_CODER_SIZE = LEN_HIGH + 256;
export const MATCH_LEN = DIST_ALIGN + 16;
export const REP_LEN = MATCH_LEN + LEN_CODER_SIZE;
export const LITERAL = REP_LEN + LEN_CODER_SIZE;
export const PROBS_SIZE = LITERAL + (0x300 << 4); // lc + lp <= 4 in LZMA2

export const PROB_INIT = 1024;

/** What the encoder writes: lc=3, lp=0, pb=2 (xz's defaults), as the properties byte (pb * 5 + lp) * 9 + lc. */
export const ENCODER_PROPS = (2 * 5 + 0) * 9 + 3;
/** pb=2: the position's two low bits select the position-dependent probabilities. */
export const ENCODER_PB_MASK = 3;

/**
 * The state after each kind of symbol (12 states remember the last few symbol kinds; 0-6 follow a
 * literal). The decoder spells these out inline in its hot loop.
 */
export const nextLiteral = (state: number): number => (state < 4 ? 0 : state < 10 ? state - 3 : state - 6);
export const nextMatch = (state: number): number => (state < 7 ? 7 : 10);
export const nextRep = (state: number): number => (state < 7 ? 8 : 11);
export const nextShortRep = (state: number): number => (state < 7 ? 9 : 11);

/** Shortest and longest match LZMA can code. */
export const MATCH_LEN_MIN = 2;
export const MATCH_LEN_MAX = 273;
