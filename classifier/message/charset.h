/*
 * charset.h - convert text in a declared (or undeclared, or lying) charset
 * to UTF-8 with ICU.
 *
 * Text that already is valid UTF-8 (pure ASCII included) takes a fast path
 * with no ICU call, whatever was declared (except for charsets that are not
 * ASCII-compatible such as UTF-16, UTF-7 or ISO-2022-*). Otherwise the
 * declared charset is tried strictly; if it is missing, unknown to ICU, or
 * the bytes are not valid in it, the charset is detected with ICU's charset
 * detector and, failing that, windows-1252 is used. The output is always
 * valid UTF-8.
 *
 * ICU converters and the detector are cached per thread (a few entries,
 * least recently used replaced); charset_thread_done() releases them.
 */
#ifndef BAYES_CHARSET_H
#define BAYES_CHARSET_H

#include <stdbool.h>
#include <stddef.h>

#include "util.h"

/* Flags reported by charset_to_utf8(); each describes the conversion. */
#define CHARSET_F_UNKNOWN	(1u << 0)	/* declared charset unknown to ICU */
#define CHARSET_F_INVALID	(1u << 1)	/* bytes not valid in the declared charset */
#define CHARSET_F_DETECTED	(1u << 2)	/* converted from a detected charset */
#define CHARSET_F_FALLBACK	(1u << 3)	/* detection failed: windows-1252 used */
#define CHARSET_F_REPLACED	(1u << 4)	/* some input replaced with U+FFFD */
#define CHARSET_F_MISMATCH	(1u << 5)	/* declared X, but the bytes were UTF-8 */

/*
 * charset_to_utf8 - convert in[0..n), declared to be in charset declared
 * (any case, may be NULL or empty when undeclared), to UTF-8 appended to
 * out (caller-owned). CHARSET_F_* flags are ORed into *flags (may be NULL).
 * An incomplete multi-byte character at the very end of in is dropped when
 * the declared charset is used (the caller may have cut the text at a byte
 * limit; see also charset_utf8_trim_tail()). Returns true when the
 * declared charset was used as is (or the text was UTF-8 and nothing else
 * was declared), false when something was detected or replaced.
 */
bool charset_to_utf8(const char *declared, const char *in, size_t n,
		     struct buf *out, unsigned *flags);

/*
 * charset_utf8_valid - length of the longest prefix of s[0..n) that is
 * well-formed UTF-8 (no overlongs, surrogates or code points past U+10FFFF).
 * Equals n when all of s is valid.
 */
size_t charset_utf8_valid(const char *s, size_t n);

/*
 * charset_utf8_sanitize - append s[0..n) to out with every ill-formed
 * sequence replaced by U+FFFD. Returns the number of replacements.
 */
size_t charset_utf8_sanitize(const char *s, size_t n, struct buf *out);

/* charset_utf8_cut - the largest length <= n at which the valid UTF-8
 * string s, longer than n bytes, may be cut without splitting a character. */
size_t charset_utf8_cut(const char *s, size_t n);

/* charset_utf8_trim_tail - n, or less if s[0..n) is UTF-8 that a byte
 * limit cut inside its last character: the length without that piece. */
size_t charset_utf8_trim_tail(const char *s, size_t n);

/* charset_thread_done - close this thread's cached ICU objects. */
void charset_thread_done(void);

#endif
