/*
 * word_cache.c - the words of recently segmented texts (see word_cache.h).
 *
 * 4-way set associative: a text's XXH3 hash picks a set of four entries,
 * the least recently used of which a new text replaces. A word record is
 * its length and code point count (32 bits each, host order) and its
 * bytes.
 */
#include "tokens/word_cache.h"

#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#define WAYS	4
#define SETS	(WORD_CACHE_ENTRIES / WAYS)

struct brk_entry {
	uint64_t hash;
	char *text;		/* NULL: free */
	size_t len;
	struct buf words;
	unsigned long used;	/* LRU stamp */
};

struct word_cache {
	struct brk_entry e[SETS][WAYS];
	size_t bytes;		/* texts and words held */
	unsigned long clock;
};

struct word_cache *word_cache_new(void)
{
	return xcalloc(1, sizeof(struct word_cache));
}

/* entry_drop - empty one entry. */
static void entry_drop(struct word_cache *c, struct brk_entry *e)
{
	if (e->text == NULL)
		return;
	c->bytes -= e->len + e->words.cap;
	free(e->text);
	buf_free(&e->words);
	memset(e, 0, sizeof(*e));
}

void word_cache_free(struct word_cache *c)
{
	if (c == NULL)
		return;
	for (size_t s = 0; s < SETS; s++)
		for (size_t w = 0; w < WAYS; w++)
			entry_drop(c, &c->e[s][w]);
	free(c);
}

const struct buf *word_cache_get(struct word_cache *c, const char *s, size_t n)
{
	if (n > WORD_CACHE_TEXT_MAX)
		return NULL;
	uint64_t h = XXH3_64bits(s, n);
	struct brk_entry *set = c->e[h % SETS];

	for (size_t w = 0; w < WAYS; w++) {
		struct brk_entry *e = &set[w];

		if (e->text && e->hash == h && e->len == n && memcmp(e->text, s, n) == 0) {
			e->used = ++c->clock;
			return &e->words;
		}
	}
	return NULL;
}

void word_cache_word_add(struct buf *words, const char *w, size_t len, size_t ncp)
{
	uint32_t head[2] = { (uint32_t)len, (uint32_t)ncp };

	buf_append(words, head, sizeof(head));
	buf_append(words, w, len);
}

bool word_cache_word_next(const struct buf *words, size_t *pos, const char **w_r, size_t *len_r,
			size_t *ncp_r)
{
	uint32_t head[2];

	if (*pos + sizeof(head) > words->len)
		return false;
	memcpy(head, words->data + *pos, sizeof(head));
	*w_r = words->data + *pos + sizeof(head);
	*len_r = head[0];
	*ncp_r = head[1];
	*pos += sizeof(head) + head[0];
	return true;
}

void word_cache_put(struct word_cache *c, const char *s, size_t n, const struct buf *words)
{
	if (n > WORD_CACHE_TEXT_MAX)
		return;
	uint64_t h = XXH3_64bits(s, n);
	struct brk_entry *set = c->e[h % SETS], *victim = &set[0];

	for (size_t w = 0; w < WAYS; w++) {
		struct brk_entry *e = &set[w];

		if (e->text && e->hash == h && e->len == n && memcmp(e->text, s, n) == 0)
			return;		/* already there */
		if (e->used < victim->used)
			victim = e;
	}
	entry_drop(c, victim);
	if (c->bytes + n + words->len + 1 > WORD_CACHE_BYTES)
		return;
	victim->text = xmalloc(n ? n : 1);
	memcpy(victim->text, s, n);
	victim->len = n;
	victim->hash = h;
	victim->words.data = xmalloc(words->len + 1);
	if (words->len)
		memcpy(victim->words.data, words->data, words->len);
	victim->words.data[words->len] = '\0';
	victim->words.len = words->len;
	victim->words.cap = words->len + 1;
	c->bytes += n + victim->words.cap;
	victim->used = ++c->clock;
}
