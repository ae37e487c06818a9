/*
 * tokenize_ngrams.c - byte 4-grams of the raw message's first bytes,
 * tokenizer_add_bytes() (see the rules atop tokenize.c). Uses
 * tokenize_internal.h and util.h.
 */
#include "tokens/tokenize_internal.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <unicode/ubrk.h>
#include <unicode/unorm2.h>
#include <unicode/ustring.h>
#include <unicode/utypes.h>

/* ------------------------------------------------------------------ */
/* byte 4-grams                                                        */

/*
 * ngram_hash - the feature of the 4 bytes packed in v (first byte
 * highest): the bytes hashed with the seed turned, so that no 4-byte word
 * shares its hash with the 4-gram of the same bytes.
 */
static inline uint64_t ngram_hash(const struct tokenizer *t, uint32_t v)
{
	unsigned char b[4] = { (unsigned char)(v >> 24), (unsigned char)(v >> 16),
			       (unsigned char)(v >> 8), (unsigned char)v };

	return XXH3_64bits_withSeed(b, sizeof(b), t->p.seed ^ 0x3467726d73ULL);
}

/* ngram_text - the readable form of a 4-gram, into t->ftext. */
static void ngram_text(struct tokenizer *t, uint32_t v)
{
	buf_reset(&t->ftext);
	buf_append(&t->ftext, "4g:", 3);
	for (int sh = 24; sh >= 0; sh -= 8) {
		unsigned c = (v >> sh) & 0xff;

		if (c >= 0x20 && c < 0x7f && c != '\\') {
			buf_putc(&t->ftext, (char)c);
		} else {
			static const char hex[] = "0123456789abcdef";
			char e[4] = { '\\', 'x', hex[c >> 4], hex[c & 15] };

			buf_append(&t->ftext, e, sizeof(e));
		}
	}
}

/*
 * verdict_header - does the header line at s (n bytes to the end) carry a
 * verdict, ours or an upstream filter's (X-Spam-*, X-Bayesd*, and
 * X-Upstream-Spam-*, an upstream one as bayesd renamed it)? Such lines
 * are left out of the 4-grams, as their fields are left out of the
 * features: a message learned after it was tagged must not learn the tag.
 */
static bool verdict_header(const unsigned char *s, size_t n)
{
	static const char *const names[] = { "x-spam-", "x-bayesd", "x-upstream-spam-" };

	for (size_t k = 0; k < ARRAY_SIZE(names); k++) {
		size_t len = strlen(names[k]), i = 0;

		while (i < len && i < n && tok_ascii_lower_tab[s[i]] == (unsigned char)names[k][i])
			i++;
		if (i == len)
			return true;
	}
	return false;
}

/* tokenizer_add_bytes - see tokenize.h. */
void tokenizer_add_bytes(struct tokenizer *t, const unsigned char *data, size_t size)
{
	uint32_t v = 0;
	unsigned have = 0, used = 0, header_used = 0;
	unsigned header_cap = t->p.ngram_header_bytes ? t->p.ngram_header_bytes : UINT_MAX;
	bool in_header = true, line_start = true, skipping = false;

	for (size_t i = 0; i < size && used < t->p.ngram_bytes && !t->full; i++) {
		unsigned char c = data[i];

		if (c == '\r')
			continue;
		if (in_header && line_start) {
			if (c == '\n') {
				in_header = skipping = false;	/* the empty line */
			} else if (c != ' ' && c != '\t') {
				skipping = verdict_header(data + i, size - i);
			}
		}
		line_start = c == '\n';
		if (skipping)
			continue;
		if (in_header) {
			if (header_used >= header_cap)
				continue;	/* past the cap: on to the body */
			header_used++;
		}
		used++;
		v = v << 8 | c;
		if (++have < 4)
			continue;
		uint64_t h = ngram_hash(t, v);

		if (t->keep_text && tok_fs_needs_text(t, h)) {
			ngram_text(t, v);
			tok_fs_add(t, h, t->ftext.data, t->ftext.len);
		} else {
			tok_fs_add(t, h, NULL, 0);
		}
	}
}
