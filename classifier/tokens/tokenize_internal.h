/*
 * tokenize_internal.h - what the tokenizer's files share: struct tokenizer,
 * its limits, and the functions one section calls in another. Private to
 * classifier/tokens/tokenize*.c: nothing else includes it.
 */
#ifndef TOKENIZE_INTERNAL_H
#define TOKENIZE_INTERNAL_H

#include "tokens/tokenize.h"
#include "util.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <unicode/ubrk.h>
#include <unicode/unorm2.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#define TOK_MAX_OSB		16	/* osb_window is clamped to this */
#define TOK_MAX_HEADER_BYTES	4096	/* of one header value */
#define TOK_MAX_HEADER_WORDS	64	/* words from one header value */
#define TOK_MAX_ADDRS		20	/* addresses from one header */
#define TOK_MAX_RECEIVED	12	/* Received fields looked at */
#define TOK_MAX_RECEIVED_TOKS	24	/* hosts and IPs from one of them */
#define TOK_MAX_BODY_WORDS	200000	/* body words per message */
#define TOK_MAX_PENDING		(64 * 1024)	/* text held back waiting for a word end */
#define TOK_MAX_NAME		64	/* header name bytes kept */
#define TOK_MAX_URL_HOST	253
#define TOK_MAX_PATH_WORDS	4

/* OSB chains: body and subject words are paired separately. */
enum tok_chain {
	CHAIN_NONE = -1,
	CHAIN_BODY = 0,
	CHAIN_SUBJECT = 1,
	CHAIN_COUNT
};

/* Top-level headers whose absence is a feature (nohdr:x). */
#define SEEN_DATE	(1u << 0)
#define SEEN_MSGID	(1u << 1)
#define SEEN_FROM	(1u << 2)
#define SEEN_TO		(1u << 3)
#define SEEN_SUBJECT	(1u << 4)

/* The words of one OSB chain: a ring of the last window-1 word hashes. */
struct osb_ring {
	uint64_t hash[TOK_MAX_OSB];
	struct buf text[TOK_MAX_OSB];	/* words, only with keep_text */
	unsigned pos;		/* next slot */
	unsigned count;		/* words in the ring, <= window - 1 */
};

struct tokenizer {
	struct tok_params p;
	bool keep_text;

	/* ICU, created once */
	const UNormalizer2 *norm;
	UBreakIterator *brk;
	UChar *u16;		/* UTF-8 input converted */
	size_t u16_cap;
	UChar *u16n;		/* normalised */
	size_t u16n_cap;

	/* the feature set: open addressing, linear probing, 0 = empty */
	uint64_t *slots;
	size_t slot_mask;
	uint64_t *feat;		/* unique features in order of arrival */
	uint32_t *feat_text;	/* offset of each one's text in arena */
	size_t nfeat;
	size_t feat_cap;
	bool full;		/* max_features reached and something was refused */
	struct buf arena;	/* NUL-terminated feature texts */

	/* the result of tokenizer_finish() */
	uint64_t *sorted;
	uint32_t *order;
	size_t bucket[(1 << 16) + 1];	/* bucket_sort()'s counts */
	const char **texts;
	size_t sorted_cap;
	struct featvec fv;

	/* where the words currently being emitted go */
	const char *prefix;	/* "subject:", "" for body words */
	size_t prefix_len;
	int chain;		/* enum tok_chain */
	unsigned word_budget;	/* words left for this text */
	unsigned body_words;	/* body words left in this message */
	struct osb_ring ring[CHAIN_COUNT];

	/* text held back until a word end */
	struct buf pending;
	enum mime_text_kind pending_kind;

	unsigned received_seen;
	unsigned seen;		/* SEEN_* */

	/* scratch */
	struct buf word;	/* one word, UTF-8 */
	struct word_cache *word_cache;	/* words of texts segmented lately */
	struct buf brkwords;	/* the words of the text being segmented */
	struct buf ftext;	/* feature text being hashed */
	struct buf otext;	/* OSB pair text */
	struct buf hname;	/* header prefix "name:" */
	struct buf tmp;		/* header value work copy */
};

/* Byte classes of the ASCII word splitter (see ascii_words()). */
enum {
	AC_OTHER = 0,
	AC_LETTER,		/* A-Z a-z @: ICU 72's root rules count '@' as a letter */
	AC_DIGIT,
	AC_USCORE,		/* ExtendNumLet */
	AC_MIDLET,		/* MidNumLet or Single_Quote: . ' */
	AC_MIDNUM,		/* MidNum: , ; */
	AC_SPACE,
};

/* the ASCII word splitter's byte classes and lower-case map (tokenize.c) */
extern unsigned char tok_ascii_class[256];
extern unsigned char tok_ascii_lower_tab[256];

/*
 * tok_fs_slot - the slot of the feature set where h (never 0: the set
 * stores hash 0 as 1) is, or the empty one it would go in.
 */
static inline size_t tok_fs_slot(const struct tokenizer *t, uint64_t h)
{
	size_t j = (size_t)h & t->slot_mask;

	while (t->slots[j] != 0 && t->slots[j] != h)
		j = (j + 1) & t->slot_mask;
	return j;
}

/*
 * tok_fs_needs_text - would tok_fs_add keep h as a new feature? Lets the callers
 * that build a feature's text apart from its hash (OSB pairs, 4-grams)
 * skip the formatting for the many that repeat one already kept.
 */
static inline bool tok_fs_needs_text(const struct tokenizer *t, uint64_t h)
{
	if (t->nfeat >= t->p.max_features)
		return false;
	return t->slots[tok_fs_slot(t, h ? h : 1)] == 0;
}

/* tok_is_host_byte - may appear in a host name (IDN bytes included). */
static inline bool tok_is_host_byte(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c >= 0x80;
}

/* tok_hash_text - the hash of a feature's text. */
static inline uint64_t tok_hash_text(const struct tokenizer *t, const void *s, size_t len)
{
	return XXH3_64bits_withSeed(s, len, t->p.seed);
}

void tok_fs_add(struct tokenizer *t, uint64_t h, const char *txt, size_t len);
void tok_feat_add(struct tokenizer *t, const char *s, size_t len);
void tok_feat_add2(struct tokenizer *t, const char *a, size_t alen, const char *b, size_t blen);
void tok_feat_adds(struct tokenizer *t, const char *a, const char *b);
void tok_feat_add3(struct tokenizer *t, const char *a, const char *b, const char *c, size_t clen);
bool tok_is_ipv4(const char *s, size_t len);
size_t tok_reg_domain(const char *host, size_t len);
bool tok_host_clean(const char *s, size_t len, struct buf *out);
void tok_address_features(struct tokenizer *t, const char *pfx, const char *s, size_t len);
bool tok_find_address(const char *text, size_t n, size_t lo, size_t at,
		      size_t *b_r, size_t *e_r);
size_t tok_url_at(struct tokenizer *t, const char *text, size_t n, size_t h);
bool tok_ci_eq(const char *s, size_t len, const char *lit);
void tok_scan_links(struct tokenizer *t, const char *s, size_t n);
void tok_osb_reset(struct tokenizer *t, int chain);
void tok_words(struct tokenizer *t, const char *text, size_t n);
void tok_pending_flush(struct tokenizer *t);
void tok_sink_text(void *ctx, enum mime_text_kind kind, const char *text, size_t len);
void tok_sink_url(void *ctx, const char *url, size_t len);
void tok_sink_part(void *ctx, const struct mime_part_info *info);
void tok_sink_header(void *ctx, unsigned depth, const char *name, size_t name_len,
		     const char *value, size_t value_len);

#endif
