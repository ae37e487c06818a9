/*
 * word_cache.h - the words ICU's word break iterator found in texts seen
 * lately, so that a text seen again is not segmented again.
 *
 * Segmenting text that is not pure ASCII (NFKC_Casefold, then UAX #29 with
 * ICU's dictionaries for Chinese, Japanese and Thai) is the tokenizer's
 * most expensive step, and mail repeats itself: the same 8-bit display
 * name in a From: header, the same spam body in message after message (in
 * 10,000 trec06p messages 79% of the bytes given to ICU had been given to
 * it before). The words of a text depend on its bytes only, so each entry
 * keeps a text (compared byte for byte) and its words in order.
 *
 * A cache belongs to one tokenizer (one thread). It holds at most
 * WORD_CACHE_ENTRIES texts of at most WORD_CACHE_TEXT_MAX bytes, and at most
 * WORD_CACHE_BYTES bytes of texts and words together. bayesd has one per
 * read handle, and it keeps up to read_handles (32) idle ones, so the
 * bound is kept at 512 KB: 16 MB at the very most, against bayesd's
 * 100 MB budget. In practice far less: bayesc's peak RSS over 10,000
 * trec06p messages grew by 0.5 MB with a 2 MB bound. Four times the
 * entries, 4 MB and texts up to 16 KB saved another 3.6% of the
 * instructions of that run.
 */
#ifndef BAYES_WORD_CACHE_H
#define BAYES_WORD_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

#define WORD_CACHE_ENTRIES	1024
#define WORD_CACHE_TEXT_MAX	8192
#define WORD_CACHE_BYTES		(512u << 10)

struct word_cache;

/* word_cache_new/free - an empty cache; free takes NULL too. */
struct word_cache *word_cache_new(void);
void word_cache_free(struct word_cache *c);

/*
 * word_cache_get - the words recorded for the text s[0..n), or NULL. The
 * words are a sequence of records (see word_cache_word_next) valid until the
 * next word_cache_put on c.
 */
const struct buf *word_cache_get(struct word_cache *c, const char *s, size_t n);

/*
 * word_cache_word_add - append one word (UTF-8 w[0..len), ncp code points)
 * to a record being built in words.
 */
void word_cache_word_add(struct buf *words, const char *w, size_t len, size_t ncp);

/*
 * word_cache_word_next - the word at *pos of a record (from word_cache_get or
 * built with word_cache_word_add): false at the end, else *w_r, *len_r and
 * *ncp_r are set and *pos moves past it.
 */
bool word_cache_word_next(const struct buf *words, size_t *pos, const char **w_r, size_t *len_r,
			size_t *ncp_r);

/*
 * word_cache_put - remember words (all of them, in order) as the words of
 * s[0..n). Texts longer than WORD_CACHE_TEXT_MAX, and entries that do not
 * fit in what is left of WORD_CACHE_BYTES, are not kept.
 */
void word_cache_put(struct word_cache *c, const char *s, size_t n, const struct buf *words);

#endif
