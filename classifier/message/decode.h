/*
 * decode.h - content and header decoders for the MIME walk.
 *
 * The body decoders (base64, quoted-printable) are incremental: a state is
 * initialised once per part and fed the raw body in pieces split anywhere
 * (even inside "=\r\n" or a base64 quantum); the concatenated output is the
 * same whatever the split. Output is appended to a caller-owned struct buf.
 * Broken input never fails: garbage is skipped (base64) or passed through
 * literally (quoted-printable) and counted in state->errors.
 *
 * The header decoders (RFC 2047 encoded words, RFC 2231 parameters) work on
 * one whole, unfolded header value and append UTF-8 to a caller-owned buf.
 */
#ifndef BAYES_DECODE_H
#define BAYES_DECODE_H

#include <stdbool.h>
#include <stddef.h>

#include "util.h"

/* struct b64_state - base64 decoder state; treat as opaque but for errors. */
struct b64_state {
	unsigned bits;		/* pending bits, right-aligned */
	unsigned nbits;		/* how many of them (0..18) */
	size_t errors;		/* bytes that were neither base64 nor blanks */
};

/* b64_init - start decoding a new base64 stream. */
void b64_init(struct b64_state *st);

/*
 * b64_decode - decode in[0..n) and append the bytes to out. Blanks and line
 * ends are skipped; other non-alphabet bytes are skipped and counted in
 * st->errors. '=' ends the current quantum (so concatenated padded blocks
 * decode correctly); missing padding is tolerated. Returns the number of
 * bytes appended.
 */
size_t b64_decode(struct b64_state *st, const char *in, size_t n, struct buf *out);

/* b64_finish - end of input: drop incomplete bits (counted as an error if
 * they could not have been padding). Appends nothing. */
void b64_finish(struct b64_state *st, struct buf *out);

/* struct qp_state - quoted-printable decoder state. */
struct qp_state {
	unsigned char pend[24];	/* held back: "=", "=X", "=<blanks>", "=<blanks>\r" */
	unsigned npend;
	size_t errors;		/* broken escapes passed through literally */
};

/* qp_init - start decoding a new quoted-printable stream. */
void qp_init(struct qp_state *st);

/*
 * qp_decode - decode in[0..n) and append to out. "=XX" (either case of hex)
 * becomes a byte; "=" followed by optional blanks and LF or CRLF is a soft
 * line break; any other "=" sequence is passed through literally and counted
 * in st->errors. Line ends are kept as written. Returns bytes appended.
 */
size_t qp_decode(struct qp_state *st, const char *in, size_t n, struct buf *out);

/* qp_finish - end of input: flush a held-back sequence literally. */
void qp_finish(struct qp_state *st, struct buf *out);

/*
 * rfc2047_decode - decode the RFC 2047 encoded words in the header value
 * in[0..n) and append the result, in UTF-8, to out. B and Q encodings are
 * understood (either case); the charset may carry an RFC 2231 language
 * ("utf-8*en"). Blanks between two adjacent encoded words are dropped, and
 * the bytes of adjacent words in the same charset are joined before
 * conversion (a character split across words survives). A malformed word is
 * left as written. The bytes of a word in a charset ICU does not know are
 * kept if they are UTF-8 and otherwise detected/converted like any
 * undeclared text (charset_to_utf8). Text outside encoded words that is not
 * UTF-8 is converted the same way, so out only ever receives valid UTF-8.
 * Returns true when at least one word was decoded; *errors_r (may be NULL)
 * is incremented for each malformed word.
 */
bool rfc2047_decode(const char *in, size_t n, struct buf *out, unsigned *errors_r);

/*
 * mime_param_get - find parameter name in a structured header value such as
 * 'text/plain; charset="utf-8"' or 'attachment; filename*=utf-8\'\'%E2%82%AC.txt'
 * and append its value, in UTF-8, to out. Understands quoted strings with
 * backslash escapes, unquoted tokens, RFC 2231 extended values
 * (name*=charset'lang'%XX...) and continuations (name*0=, name*1*=, ... in
 * any order), and RFC 2047 words inside a plain value (a common violation).
 * An extended value wins over a plain one. Returns true if the parameter
 * was found (its value may be empty), false otherwise (out is unchanged).
 * The name is matched without regard to case.
 */
bool mime_param_get(const char *value, const char *name, struct buf *out);

#endif
