/*
 * brkcache.h - the words ICU's word break iterator found in texts seen
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
 * BRKCACHE_ENTRIES texts of at most BRKCACHE_TEXT_MAX bytes, and at most
 * BRKCACHE_BYTES bytes of texts and words together. bayesd has one per
 * read handle, and it keeps up to read_handles (32) idle ones, so the
 * bound is kept at 512 KB: 16 MB at the very most, against bayesd's
 * 100 MB budget. In practice far less: bayesc's peak RSS over 10,000
 * trec06p messages grew by 0.5 MB with a 2 MB bound. Four times the
 * entries, 4 MB and texts up to 16 KB saved another 3.6% of the
 * instructions of that run.
 */
#ifndef BAYES_BRKCACHE_H
#define BAYES_BRKCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

#define BRKCACHE_ENTRIES	1024
#define BRKCACHE_TEXT_MAX	8192
#define BRKCACHE_BYTES		(512u << 10)

struct brkcache;

/* brkcache_new/free - an empty cache; free takes NULL too. */
struct brkcache *brkcache_new(void);
void brkcache_free(struct brkcache *c);

/*
 * brkcache_get - the words recorded for the text s[0..n), or NULL. The
 * words are a sequence of records (see brkcache_word_next) valid until the
 * next brkcache_put on c.
 */
const struct buf *brkcache_get(struct brkcache *c, const char *s, size_t n);

/*
 * brkcache_word_add - append one word (UTF-8 w[0..len), ncp code points)
 * to a record being built in words.
 */
void brkcache_word_add(struct buf *words, const char *w, size_t len, size_t ncp);

/*
 * brkcache_word_next - the word at *pos of a record (from brkcache_get or
 * built with brkcache_word_add): false at the end, else *w_r, *len_r and
 * *ncp_r are set and *pos moves past it.
 */
bool brkcache_word_next(const struct buf *words, size_t *pos, const char **w_r, size_t *len_r,
			size_t *ncp_r);

/*
 * brkcache_put - remember words (all of them, in order) as the words of
 * s[0..n). Texts longer than BRKCACHE_TEXT_MAX, and entries that do not
 * fit in what is left of BRKCACHE_BYTES, are not kept.
 */
void brkcache_put(struct brkcache *c, const char *s, size_t n, const struct buf *words);

#endif
