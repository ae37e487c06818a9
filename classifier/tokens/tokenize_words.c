/*
 * tokenize_words.c - text into words: the ASCII splitter, ICU's
 * normalisation and word break iterator (through word_cache), body and
 * subject words and their OSB pairs (see the rules atop tokenize.c). Uses
 * tokenize_internal.h, tokens/word_cache.h, util.h and ICU.
 */
#include "tokens/tokenize_internal.h"
#include "tokens/word_cache.h"

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
/* words                                                               */

/*
 * osb_pair - the feature of word hashes a (earlier) and b at distance d.
 * Four pairs per word make this the hottest hash, so it is a multiply-xor
 * mix (a 64-bit finaliser as in MurmurHash3/SplitMix) rather than XXH3
 * over the bytes; the inputs are already good hashes, so it only has to
 * keep (a, b, d, chain) apart and spread the result.
 */
static inline uint64_t osb_pair(const struct tokenizer *t, uint64_t a, uint64_t b,
				unsigned d, int chain)
{
	uint64_t x = a * 0x9E3779B97F4A7C15ULL;

	x ^= ((b << 29) | (b >> 35)) * 0xC2B2AE3D27D4EB4FULL;
	x ^= t->p.seed + ((uint64_t)d << 8 | (uint64_t)chain) * 0x165667B19E3779F9ULL;
	x ^= x >> 31;
	x *= 0xD6E8FEB86659FD93ULL;
	x ^= x >> 32;
	x *= 0xD6E8FEB86659FD93ULL;
	x ^= x >> 32;
	return x;
}

/* tok_osb_reset - start the word pairs of a chain afresh. */
void tok_osb_reset(struct tokenizer *t, int chain)
{
	t->ring[chain].pos = 0;
	t->ring[chain].count = 0;
}

/* osb_push - pair word w (hash wh) with those before it, then remember it. */
static void osb_push(struct tokenizer *t, int chain, uint64_t wh, const char *w, size_t wlen)
{
	struct osb_ring *r = &t->ring[chain];
	unsigned keep = t->p.osb_window > 1 ? t->p.osb_window - 1 : 0;

	if (keep == 0)
		return;
	for (unsigned d = 1; d <= r->count; d++) {
		unsigned slot = (r->pos + keep - d) % keep;
		uint64_t h = osb_pair(t, r->hash[slot], wh, d, chain);

		if (t->keep_text && tok_fs_needs_text(t, h)) {
			/* PREFIX WORD<d>WORD, by hand: printf was a third of keep_text's cost */
			struct buf *o = &t->otext;
			char dist[4];
			int dl = d < 10 ? 1 : 2;

			dist[0] = (char)(d < 10 ? '0' + d : '0' + d / 10);
			dist[1] = (char)('0' + d % 10);
			buf_reset(o);
			if (chain == CHAIN_SUBJECT)
				buf_append(o, "subject-osb:", 12);
			else
				buf_append(o, "osb:", 4);
			buf_append(o, r->text[slot].data, r->text[slot].len);
			buf_putc(o, '<');
			buf_append(o, dist, (size_t)dl);
			buf_putc(o, '>');
			buf_append(o, w, wlen);
			tok_fs_add(t, h, o->data, o->len);
		} else {
			tok_fs_add(t, h, NULL, 0);
		}
	}
	r->hash[r->pos] = wh;
	if (t->keep_text) {
		buf_reset(&r->text[r->pos]);
		buf_append(&r->text[r->pos], w, wlen);
	}
	r->pos = (r->pos + 1) % keep;
	if (r->count < keep)
		r->count++;
}

/*
 * emit_word - one normalised word w (UTF-8, ncp code points) of the text
 * being tokenized: a feature with the current prefix, an OSB step, and
 * for a dotted quad an ip: feature.
 */
static void emit_word(struct tokenizer *t, const char *w, size_t len, size_t ncp)
{
	char longw[16];
	uint64_t wh = 0;

	if (t->word_budget == 0)
		return;
	t->word_budget--;
	if (ncp > t->p.max_word) {
		size_t b = ncp / 10 * 10;

		len = (size_t)snprintf(longw, sizeof(longw), "long:%zu", b > 100 ? (size_t)100 : b);
		w = longw;
	} else if (len >= 7 && w[0] >= '0' && w[0] <= '9' && tok_is_ipv4(w, len)) {
		tok_feat_add2(t, "ip:", 3, w, len);
	}
	if (t->prefix_len == 0) {
		wh = tok_hash_text(t, w, len);
		tok_fs_add(t, wh, w, len);
	} else {
		tok_feat_add2(t, t->prefix, t->prefix_len, w, len);
		if (t->chain != CHAIN_NONE)
			wh = tok_hash_text(t, w, len);
	}
	if (t->chain != CHAIN_NONE)
		osb_push(t, t->chain, wh, w, len);
}

/*
 * ascii_words - split pure-ASCII text into words as ICU's word break
 * iterator does (UAX #29 with ICU 72's root rules), lower-cased. Letters,
 * digits and '_' join; a letter, '.' or '\'', letter stays one word
 * ("don't", "a.b"), as does a digit, one of ".',;", digit ("1,000.5").
 * A lone "_" has no word status in ICU and is dropped here too.
 */
static void ascii_words(struct tokenizer *t, const unsigned char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		unsigned k = tok_ascii_class[s[i]];
		size_t start;
		unsigned last;

		if (k < AC_LETTER || k > AC_USCORE) {
			i++;
			continue;
		}
		start = i;
		last = k;
		i++;
		for (;;) {
			if (i < n) {
				k = tok_ascii_class[s[i]];
				if (k >= AC_LETTER && k <= AC_USCORE) {
					last = k;
					i++;
					continue;
				}
				if (i + 1 < n) {
					unsigned k2 = tok_ascii_class[s[i + 1]];

					if (last == AC_LETTER && k == AC_MIDLET && k2 == AC_LETTER) {
						i += 2;
						continue;
					}
					if (last == AC_DIGIT && (k == AC_MIDLET || k == AC_MIDNUM) && k2 == AC_DIGIT) {
						i += 2;
						continue;
					}
				}
			}
			break;
		}
		if (i - start == 1 && s[start] == '_')
			continue;
		buf_reset(&t->word);
		buf_reserve(&t->word, i - start);
		for (size_t j = start; j < i; j++)
			t->word.data[j - start] = (char)tok_ascii_lower_tab[s[j]];
		t->word.len = i - start;
		t->word.data[t->word.len] = '\0';
		emit_word(t, t->word.data, t->word.len, t->word.len);
		if (t->word_budget == 0)
			return;
	}
}

/* u16_reserve - make *p hold at least n UTF-16 units. */
static void u16_reserve(UChar **p, size_t *cap, size_t n)
{
	if (*cap < n) {
		*cap = n + n / 2 + 64;
		free(*p);
		*p = xmalloc(*cap * sizeof(UChar));
	}
}

/*
 * icu_words - normalise and segment text that is not pure ASCII. Invalid
 * UTF-8 becomes U+FFFD (the walk should already have replaced it).
 */
static void icu_words(struct tokenizer *t, const char *s, size_t n)
{
	UErrorCode err = U_ZERO_ERROR;
	int32_t len, span, nlen;
	const UChar *text;

	if (n > INT32_MAX / 4)
		n = INT32_MAX / 4;
	/* a text segmented before: the same words, without ICU */
	const struct buf *seen = word_cache_get(t->word_cache, s, n);
	if (seen) {
		const char *w;
		size_t pos = 0, wlen, ncp;

		while (word_cache_word_next(seen, &pos, &w, &wlen, &ncp)) {
			buf_reset(&t->word);
			buf_append(&t->word, w, wlen);
			emit_word(t, t->word.data, t->word.len, ncp);
			if (t->word_budget == 0)
				return;
		}
		return;
	}
	buf_reset(&t->brkwords);
	u16_reserve(&t->u16, &t->u16_cap, n + 1);
	u_strFromUTF8WithSub(t->u16, (int32_t)t->u16_cap, &len, s, (int32_t)n, 0xFFFD, NULL, &err);
	if (U_FAILURE(err))
		return;

	/* most text is already normal: copy the prefix that surely is */
	span = unorm2_spanQuickCheckYes(t->norm, t->u16, len, &err);
	if (U_FAILURE(err))
		return;
	if (span == len) {
		text = t->u16;
		nlen = len;
	} else {
		size_t want = (size_t)len * 2 + 16;

		for (;;) {
			u16_reserve(&t->u16n, &t->u16n_cap, want);
			memcpy(t->u16n, t->u16, (size_t)span * sizeof(UChar));
			err = U_ZERO_ERROR;
			nlen = unorm2_normalizeSecondAndAppend(t->norm, t->u16n, span,
							       (int32_t)t->u16n_cap,
							       t->u16 + span, len - span, &err);
			if (err == U_BUFFER_OVERFLOW_ERROR && (size_t)nlen + 1 > want) {
				want = (size_t)nlen + 16;
				continue;
			}
			break;
		}
		if (U_FAILURE(err))
			return;
		text = t->u16n;
	}

	ubrk_setText(t->brk, text, nlen, &err);
	if (U_FAILURE(err))
		return;
	int32_t start = ubrk_first(t->brk), end;

	while ((end = ubrk_next(t->brk)) != UBRK_DONE) {
		int32_t wlen = end - start, outlen;
		const UChar *w = text + start;

		start = end;
		if (ubrk_getRuleStatus(t->brk) < UBRK_WORD_NONE_LIMIT)
			continue;
		size_t ncp = (size_t)wlen;

		for (int32_t i = 0; i < wlen; i++)
			if (U16_IS_TRAIL(w[i]))
				ncp--;
		buf_reset(&t->word);
		buf_reserve(&t->word, (size_t)wlen * 3 + 1);
		err = U_ZERO_ERROR;
		u_strToUTF8WithSub(t->word.data, (int32_t)t->word.cap, &outlen, w, wlen,
				   0xFFFD, NULL, &err);
		if (U_FAILURE(err))
			continue;
		t->word.len = (size_t)outlen;
		t->word.data[outlen] = '\0';
		word_cache_word_add(&t->brkwords, t->word.data, t->word.len, ncp);
		emit_word(t, t->word.data, t->word.len, ncp);
		if (t->word_budget == 0)
			return;		/* not all words: nothing to remember */
	}
	word_cache_put(t->word_cache, s, n, &t->brkwords);
}

/* has_8bit - any byte of s[0..n) above 0x7f; word at a time. */
static bool has_8bit(const unsigned char *s, size_t n)
{
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		uint64_t v;

		memcpy(&v, s + i, 8);
		if (v & 0x8080808080808080ULL)
			return true;
	}
	for (; i < n; i++)
		if (s[i] & 0x80)
			return true;
	return false;
}

/*
 * tok_words - cut text s[0..n) into words and emit them with the current
 * prefix and chain. Groups of white-space separated fields go to the ASCII
 * splitter or to ICU, whichever they need.
 */
void tok_words(struct tokenizer *t, const char *text, size_t n)
{
	const unsigned char *s = (const unsigned char *)text;
	size_t i = 0, gstart = 0;
	bool g8 = false;

	if (!has_8bit(s, n)) {
		ascii_words(t, s, n);
		return;
	}
	while (i < n && t->word_budget > 0) {
		size_t fstart;
		bool f8 = false;

		while (i < n && tok_ascii_class[s[i]] == AC_SPACE)
			i++;
		fstart = i;
		while (i < n && tok_ascii_class[s[i]] != AC_SPACE) {
			f8 |= (s[i] & 0x80) != 0;
			i++;
		}
		if (fstart == i)
			break;
		if (f8 != g8 && fstart > gstart) {
			if (g8)
				icu_words(t, text + gstart, fstart - gstart);
			else
				ascii_words(t, s + gstart, fstart - gstart);
			gstart = fstart;
		}
		g8 = f8;
	}
	if (gstart < n && t->word_budget > 0) {
		if (g8)
			icu_words(t, text + gstart, n - gstart);
		else
			ascii_words(t, s + gstart, n - gstart);
	}
}
