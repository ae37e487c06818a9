/*
 * tokenize.c - turn the events of a MIME walk into features. See tokenize.h.
 *
 * Every feature is XXH3_64bits_withSeed(text, seed) of a readable text;
 * word pairs (OSB) are the one exception: they hash the two word hashes
 * and the distance (osb_pair()), so a pair costs no string building.
 * Changing any rule below changes hashes: bump TOK_VERSION.
 *
 * Text (body text events, header values):
 *	Split at ASCII white space into groups. A group that is pure ASCII is
 *	lower-cased and cut into words by ascii_words(), which follows the
 *	rules of ICU's word break iterator for ASCII exactly (a differential
 *	test checks this); NFKC + case fold of ASCII is plain lower-casing.
 *	Other groups go to ICU: UTF-16, NFKC_Casefold (skipping the prefix that
 *	unorm2_spanQuickCheckYes() says is already normal), then the word break
 *	iterator; segments whose rule status is UBRK_WORD_NONE are dropped, so
 *	Chinese, Japanese and Thai yield dictionary words. Since white space
 *	always breaks words, splitting there changes no word.
 *
 * Body words (text events):
 *	"word" as is, no prefix. A word over max_word code points becomes
 *	"long:N", N its length rounded down to a multiple of 10, at most 100.
 *	A word that is a dotted quad also gives "ip:a.b.c.d".
 *	OSB: each word is paired with each of the osb_window-1 before it in the
 *	same part: readable "osb:prev<d>cur". The chain restarts at each part.
 *	URLs (scheme://host..., www.host), e-mail addresses: see below.
 *	Words per message are capped (TOK_MAX_BODY_WORDS).
 *
 * URLs (url events, and found in body text and header values):
 *	"url:host" (lower-cased, port and user info dropped), "url-domain:dom"
 *	(the registered domain, from the public suffix list: reg_domain),
 *	for a literal
 *	IPv4 host "url-ip" and "ip:a.b.c.d" instead of the domain, for an
 *	unusual scheme "url-scheme:s", and up to 4 purely alphabetic path
 *	words "url-path:w" (ids with digits are left out: they never repeat).
 *	mailto: URLs give the e-mail features.
 * E-mail addresses in text: "email:local@dom", "email-domain:regdom".
 *
 * Headers (name lower-cased; at depth > 0 prefixed "inner-"):
 *	Never: x-spam-status, x-spam-flag, x-spam-level, x-spam-score, x-bayesd*
 *	(our own verdict must never train or score).
 *	Every other header gives "hdr:name" once, then by name:
 *	subject: words "subject:w", OSB pairs "subject-osb:a<d>b".
 *	from, to, cc, bcc, reply-to, sender, return-path, delivered-to,
 *		errors-to, resent-from, resent-to: "name:addr:a@d",
 *		"name:dom:host", "name:dom:regdom", display-name words "name:w",
 *		"name:noaddr" when there is none (return-path "<>").
 *	received: "received:ip:a.b.c.d", "received:ip:a.b.c.0/24",
 *		"received:host:h", "received:domain:regdom", "received:with:proto";
 *		only the first TOK_MAX_RECEIVED Received fields.
 *	message-id: "message-id:dom:regdom" or "message-id:nodomain".
 *	date: "date:tz:+0200" (or the zone name), nothing else.
 *	content-type: "content-type:param:name" for each parameter name (the
 *		type itself comes from the part event).
 *	dkim-signature, arc-message-signature, arc-seal,
 *		x-google-dkim-signature: "name:d:domain" only.
 *	authentication-results, received-spf, arc-authentication-results:
 *		"name:method=result" pairs, plus the words.
 *	content-transfer-encoding, content-id, references, in-reply-to,
 *		thread-index, x-ms-exchange-*: presence only.
 *	anything else: words "name:w" of the value, URLs and addresses.
 *	Each header is cut at TOK_MAX_HEADER_BYTES bytes and
 *	TOK_MAX_HEADER_WORDS words.
 *	After the walk: "nohdr:x" for each of date, message-id, from, to,
 *	subject missing from the top-level header.
 *
 * Parts: "ct:type", "cte:encoding", "charset:x", "filename-ext:ext".
 * Byte 4-grams (tokenizer_add_bytes): every 4-byte window of the first
 *	ngram_bytes bytes of the raw message, headers included but for
 *	X-Spam-*, X-Upstream-Spam-* and X-Bayesd* fields (see
 *	verdict_header()), CR skipped, and of the header no more than
	ngram_header_bytes: the rest goes to the body. A header is the
	receiving site's as much as the sender's (relays, trace fields,
	signatures; half of csdmc2010's are over 3000 bytes), and without the
	cap a long one took the whole budget, so what was learned from one
	stream's headers did not carry to another's mail (README):
 *	readable "4g:" plus the bytes (\xHH for what is not printable ASCII).
 *	Like OSB pairs they hash the bytes directly (ngram_hash()). They carry
 *	what words do not: the mailer's header layout, encodings, markup, and
 *	they transfer better from one mail stream to another (README).
 * Meta (tokenizer_add_meta): "meta:name:value"; an IP value also gives its
 *	/24 (IPv4) or /48 (IPv6); a host name its "meta:name:domain:regdom";
 *	an address the address features with prefix "meta:name".
 */
#include "tokens/tokenize.h"
#include "tokens/brkcache.h"

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

#define XXH_INLINE_ALL
#include <libpsl.h>
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
	struct brkcache *brkcache;	/* words of texts segmented lately */
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

static unsigned char ascii_class[256];
static unsigned char ascii_lower_tab[256];

/* ascii_tables_init - fill the byte tables, once per process. */
static void ascii_tables_init(void)
{
	for (int c = 0; c < 256; c++) {
		unsigned char k = AC_OTHER;

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '@')
			k = AC_LETTER;
		else if (c >= '0' && c <= '9')
			k = AC_DIGIT;
		else if (c == '_')
			k = AC_USCORE;
		else if (c == '.' || c == '\'')
			k = AC_MIDLET;
		else if (c == ',' || c == ';')
			k = AC_MIDNUM;
		else if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v')
			k = AC_SPACE;
		ascii_class[c] = k;
		ascii_lower_tab[c] = (unsigned char)((c >= 'A' && c <= 'Z') ? c + 32 : c);
	}
}

/* tok_params_default - see tokenize.h. */
void tok_params_default(struct tok_params *p)
{
	p->version = TOK_VERSION;
	p->seed = TOK_DEFAULT_SEED;
	p->osb_window = TOK_DEFAULT_OSB_WINDOW;
	p->max_features = TOK_DEFAULT_MAX_FEATURES;
	p->max_word = TOK_DEFAULT_MAX_WORD;
	p->ngram_bytes = TOK_DEFAULT_NGRAM_BYTES;
	p->ngram_header_bytes = TOK_DEFAULT_NGRAM_HEADER_BYTES;
}

/* tok_params_string - see tokenize.h. */
void tok_params_string(const struct tok_params *p, struct buf *out)
{
	buf_reset(out);
	buf_printf(out, "v=%u hash=xxh3 seed=0x%llx osb=%u maxword=%u maxfeat=%u",
		   p->version, (unsigned long long)p->seed, p->osb_window,
		   p->max_word, p->max_features);
	/* absent when off, so that a database made before 4-grams still opens */
	if (p->ngram_bytes > 0)
		buf_printf(out, " ngram=4x%u", p->ngram_bytes);
	/* absent when off, so that a database made before the cap still opens */
	if (p->ngram_bytes > 0 && p->ngram_header_bytes > 0)
		buf_printf(out, " ngramhdr=%u", p->ngram_header_bytes);
}

/* ------------------------------------------------------------------ */
/* the feature set                                                     */

/* fs_grow - double the slot table and re-insert, in arrival order. */
static void fs_grow(struct tokenizer *t)
{
	size_t cap = (t->slot_mask + 1) * 2;

	free(t->slots);
	t->slots = xcalloc(cap, sizeof(uint64_t));
	t->slot_mask = cap - 1;
	for (size_t i = 0; i < t->nfeat; i++) {
		size_t j = (size_t)t->feat[i] & t->slot_mask;

		while (t->slots[j] != 0)
			j = (j + 1) & t->slot_mask;
		t->slots[j] = t->feat[i];
	}
}

/*
 * fs_add - add feature h with readable text txt (may be NULL unless
 * keep_text). Hash 0 marks an empty slot, so it is stored as 1: one text in
 * 2^64 shares a hash with another, which no one will notice.
 */
static void fs_add(struct tokenizer *t, uint64_t h, const char *txt, size_t len)
{
	size_t j;

	if (h == 0)
		h = 1;
	j = (size_t)h & t->slot_mask;
	while (t->slots[j] != 0) {
		if (t->slots[j] == h)
			return;
		j = (j + 1) & t->slot_mask;
	}
	if (t->nfeat >= t->p.max_features) {
		t->full = true;
		return;
	}
	t->slots[j] = h;
	if (t->nfeat == t->feat_cap) {
		t->feat_cap = t->feat_cap ? t->feat_cap * 2 : 1024;
		t->feat = xrealloc(t->feat, t->feat_cap * sizeof(uint64_t));
		if (t->keep_text)
			t->feat_text = xrealloc(t->feat_text, t->feat_cap * sizeof(uint32_t));
	}
	if (t->keep_text) {
		t->feat_text[t->nfeat] = (uint32_t)t->arena.len;
		buf_append(&t->arena, txt, len);
		buf_putc(&t->arena, '\0');
	}
	t->feat[t->nfeat++] = h;
	/* keep the load under one half */
	if (t->nfeat * 2 > t->slot_mask + 1)
		fs_grow(t);
}

/*
 * fs_needs_text - would fs_add keep h as a new feature? Lets the callers
 * that build a feature's text apart from its hash (OSB pairs, 4-grams)
 * skip the formatting for the many that repeat one already kept.
 */
static inline bool fs_needs_text(const struct tokenizer *t, uint64_t h)
{
	size_t j;

	if (h == 0)
		h = 1;
	if (t->nfeat >= t->p.max_features)
		return false;
	for (j = (size_t)h & t->slot_mask; t->slots[j] != 0; j = (j + 1) & t->slot_mask)
		if (t->slots[j] == h)
			return false;
	return true;
}

/* hash_text - the hash of a feature's text. */
static inline uint64_t hash_text(const struct tokenizer *t, const void *s, size_t len)
{
	return XXH3_64bits_withSeed(s, len, t->p.seed);
}

/* feat_add - hash and add a feature given as one string. */
static void feat_add(struct tokenizer *t, const char *s, size_t len)
{
	fs_add(t, hash_text(t, s, len), s, len);
}

/* feat_add2 - add the feature a + b (a prefix and a value). */
static void feat_add2(struct tokenizer *t, const char *a, size_t alen, const char *b, size_t blen)
{
	buf_reset(&t->ftext);
	buf_append(&t->ftext, a, alen);
	buf_append(&t->ftext, b, blen);
	feat_add(t, t->ftext.data, t->ftext.len);
}

/* feat_adds - add the feature a + b, both C strings. */
static void feat_adds(struct tokenizer *t, const char *a, const char *b)
{
	feat_add2(t, a, strlen(a), b, strlen(b));
}

/* feat_add3 - add the feature a + b + c; c has length clen. */
static void feat_add3(struct tokenizer *t, const char *a, const char *b, const char *c, size_t clen)
{
	buf_reset(&t->ftext);
	buf_append(&t->ftext, a, strlen(a));
	buf_append(&t->ftext, b, strlen(b));
	buf_append(&t->ftext, c, clen);
	feat_add(t, t->ftext.data, t->ftext.len);
}

/* ------------------------------------------------------------------ */
/* small parsers                                                       */

/* is_ipv4 - s[0..len) is a dotted quad of numbers 0..255. */
static bool is_ipv4(const char *s, size_t len)
{
	unsigned dots = 0, digits = 0, val = 0;

	if (len < 7 || len > 15)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] >= '0' && s[i] <= '9') {
			val = val * 10 + (unsigned)(s[i] - '0');
			if (++digits > 3 || val > 255)
				return false;
		} else if (s[i] == '.') {
			if (digits == 0 || ++dots > 3)
				return false;
			digits = val = 0;
		} else {
			return false;
		}
	}
	return dots == 3 && digits > 0;
}

/* is_host_byte - may appear in a host name (IDN bytes included). */
static inline bool is_host_byte(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c >= 0x80;
}

/* is_local_byte - may appear in the local part of an address we scan for. */
static inline bool is_local_byte(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '_' || c == '%' || c == '+' || c == '-' || c == '=';
}

/* reg_psl - the public suffix list reg_domain() uses; reg_psl_load sets it once */
static const psl_ctx_t *reg_psl;

static void reg_psl_load(void)
{
	reg_psl = psl_builtin();
	if (reg_psl == NULL)
		reg_psl = psl_latest(NULL);	/* kept for the life of the process */
}

/*
 * reg_domain - the registered domain of a lower-case host, from the
 * public suffix list (libpsl, its ICANN and private sections): the label
 * under the longest public suffix, so foo.github.io and foo.blogspot.com
 * are their own, example.co.uk is one. libpsl's built-in list (fixed for a
 * libpsl build, so the tokens stay the same from run to run), else the
 * newest one on the system. Returns the offset in host where the domain
 * starts: 0 for a host that is a public suffix itself or has no dot.
 */
static size_t reg_domain(const char *host, size_t len)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	char copy[256];
	const char *rd;

	pthread_once(&once, reg_psl_load);
	if (reg_psl == NULL || len == 0 || len >= sizeof(copy) || memchr(host, '.', len) == NULL)
		return 0;
	memcpy(copy, host, len);
	copy[len] = '\0';
	rd = psl_registrable_domain(reg_psl, copy);
	return rd != NULL ? (size_t)(rd - copy) : 0;
}

/*
 * host_clean - copy host s[0..len) lower-cased into out, without trailing
 * dots. Returns false when nothing usable is left.
 */
static bool host_clean(const char *s, size_t len, struct buf *out)
{
	buf_reset(out);
	while (len > 0 && s[len - 1] == '.')
		len--;
	while (len > 0 && s[0] == '.')
		s++, len--;
	if (len == 0 || len > TOK_MAX_URL_HOST)
		return false;
	for (size_t i = 0; i < len; i++)
		buf_putc(out, (char)ascii_lower_tab[(unsigned char)s[i]]);
	return true;
}

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

/* osb_reset - start the word pairs of a chain afresh. */
static void osb_reset(struct tokenizer *t, int chain)
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

		if (t->keep_text && fs_needs_text(t, h)) {
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
			fs_add(t, h, o->data, o->len);
		} else {
			fs_add(t, h, NULL, 0);
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
	} else if (len >= 7 && w[0] >= '0' && w[0] <= '9' && is_ipv4(w, len)) {
		feat_add2(t, "ip:", 3, w, len);
	}
	if (t->prefix_len == 0) {
		wh = hash_text(t, w, len);
		fs_add(t, wh, w, len);
	} else {
		feat_add2(t, t->prefix, t->prefix_len, w, len);
		if (t->chain != CHAIN_NONE)
			wh = hash_text(t, w, len);
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
		unsigned k = ascii_class[s[i]];
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
				k = ascii_class[s[i]];
				if (k >= AC_LETTER && k <= AC_USCORE) {
					last = k;
					i++;
					continue;
				}
				if (i + 1 < n) {
					unsigned k2 = ascii_class[s[i + 1]];

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
			t->word.data[j - start] = (char)ascii_lower_tab[s[j]];
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
	const struct buf *seen = brkcache_get(t->brkcache, s, n);
	if (seen) {
		const char *w;
		size_t pos = 0, wlen, ncp;

		while (brkcache_word_next(seen, &pos, &w, &wlen, &ncp)) {
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
		brkcache_word_add(&t->brkwords, t->word.data, t->word.len, ncp);
		emit_word(t, t->word.data, t->word.len, ncp);
		if (t->word_budget == 0)
			return;		/* not all words: nothing to remember */
	}
	brkcache_put(t->brkcache, s, n, &t->brkwords);
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
 * words - cut text s[0..n) into words and emit them with the current
 * prefix and chain. Groups of white-space separated fields go to the ASCII
 * splitter or to ICU, whichever they need.
 */
static void words(struct tokenizer *t, const char *text, size_t n)
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

		while (i < n && ascii_class[s[i]] == AC_SPACE)
			i++;
		fstart = i;
		while (i < n && ascii_class[s[i]] != AC_SPACE) {
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

/* ------------------------------------------------------------------ */
/* URLs and addresses                                                  */

/* host_features - url:host and url-domain:dom, or the IP forms. */
static void host_features(struct tokenizer *t, const char *h, size_t len)
{
	if (!host_clean(h, len, &t->tmp))
		return;
	feat_add2(t, "url:", 4, t->tmp.data, t->tmp.len);
	if (is_ipv4(t->tmp.data, t->tmp.len)) {
		feat_add(t, "url-ip", 6);
		feat_add2(t, "ip:", 3, t->tmp.data, t->tmp.len);
		return;
	}
	size_t off = reg_domain(t->tmp.data, t->tmp.len);

	feat_add2(t, "url-domain:", 11, t->tmp.data + off, t->tmp.len - off);
}

/*
 * address_features - the features of an address local@domain found in
 * text (s[0..len)): pfx "email" gives "email:a@d" and "email-domain:regdom",
 * a header prefix "from:" gives "from:addr:a@d", "from:dom:host" and
 * "from:dom:regdom".
 */
static void address_features(struct tokenizer *t, const char *pfx, const char *s, size_t len)
{
	struct buf *a = &t->tmp;
	const char *at;
	size_t off, dstart;

	buf_reset(a);
	for (size_t i = 0; i < len; i++)
		buf_putc(a, (char)ascii_lower_tab[(unsigned char)s[i]]);
	at = memchr(a->data, '@', a->len);
	if (at == NULL)
		return;
	dstart = (size_t)(at - a->data) + 1;
	off = dstart + reg_domain(a->data + dstart, a->len - dstart);
	if (pfx == NULL) {
		feat_add2(t, "email:", 6, a->data, a->len);
		feat_add2(t, "email-domain:", 13, a->data + off, a->len - off);
	} else {
		feat_add3(t, pfx, "addr:", a->data, a->len);
		feat_add3(t, pfx, "dom:", a->data + dstart, a->len - dstart);
		if (off != dstart)
			feat_add3(t, pfx, "dom:", a->data + off, a->len - off);
	}
}

/*
 * find_address - the address around the '@' at s[at], not reaching back
 * before lo: start and end in *b_r, *e_r. It must have a non-empty local
 * part and a dotted domain.
 */
/*
 * utf8_cut_end - move a cut at s[e] (e < n: text continues) back to a
 * character boundary, not below lo: a length cap must not split a UTF-8
 * sequence, or a feature's readable text would not be UTF-8.
 */
static size_t utf8_cut_end(const unsigned char *s, size_t lo, size_t e, size_t n)
{
	while (e > lo && e < n && (s[e] & 0xC0) == 0x80)
		e--;
	return e;
}

static bool find_address(const char *text, size_t n, size_t lo, size_t at,
			 size_t *b_r, size_t *e_r)
{
	const unsigned char *s = (const unsigned char *)text;
	size_t b = at, e = at + 1;

	while (b > lo && at - b < 64 && is_local_byte(s[b - 1]))
		b--;
	while (b < at && ((s[b] & 0xC0) == 0x80 || s[b] == '.'))	/* capped mid-character */
		b++;
	while (e < n && e - at < TOK_MAX_URL_HOST && is_host_byte(s[e]))
		e++;
	e = utf8_cut_end(s, at + 1, e, n);
	while (e > at + 1 && (s[e - 1] == '.' || s[e - 1] == '-'))
		e--;
	if (b == at || e <= at + 1 || memchr(s + at + 1, '.', e - at - 1) == NULL)
		return false;
	*b_r = b;
	*e_r = e;
	return true;
}

/*
 * url_at - a URL whose host starts at s[h]: host features and path words.
 * Returns the offset just past what was used.
 */
static size_t url_at(struct tokenizer *t, const char *text, size_t n, size_t h)
{
	const unsigned char *s = (const unsigned char *)text;
	size_t e = h, hs = h, he;
	unsigned npath = 0;

	/* authority: up to / ? # or anything that cannot be in it */
	while (e < n && e - h < 512 && s[e] != '/' && s[e] != '?' && s[e] != '#' &&
	       s[e] > ' ' && s[e] != '"' && s[e] != '<' && s[e] != '>' && s[e] != '\'' &&
	       s[e] != '\\')
		e++;
	e = utf8_cut_end(s, h, e, n);
	for (size_t i = h; i < e; i++)	/* user info */
		if (s[i] == '@')
			hs = i + 1;
	he = hs;
	while (he < e && is_host_byte(s[he]))
		he++;
	if (he > hs)
		host_features(t, text + hs, he - hs);

	/* path: purely alphabetic words only */
	while (e < n && s[e] > ' ' && s[e] != '"' && s[e] != '<' && s[e] != '>' && s[e] != '\'') {
		size_t ws = e;
		bool alpha = true;

		while (e < n && ascii_class[s[e]] >= AC_LETTER && ascii_class[s[e]] <= AC_USCORE) {
			alpha &= ascii_class[s[e]] == AC_LETTER;
			e++;
		}
		if (e > ws + 2 && e - ws <= t->p.max_word && alpha && npath < TOK_MAX_PATH_WORDS) {
			buf_reset(&t->word);
			for (size_t i = ws; i < e; i++)
				buf_putc(&t->word, (char)ascii_lower_tab[s[i]]);
			feat_add2(t, "url-path:", 9, t->word.data, t->word.len);
			npath++;
		}
		if (e == ws)
			e++;
	}
	return e;
}

/* ci_eq - s[0..len) equals lower-case lit, ignoring ASCII case. */
static bool ci_eq(const char *s, size_t len, const char *lit)
{
	return strlen(lit) == len && ascii_casecmp_n(s, lit, len) == 0;
}

/*
 * scan_links - find URLs (scheme://..., www....) and e-mail addresses in
 * text and add their features. Cheap on text without any: four memchr
 * passes (mem_find).
 */
static void scan_links(struct tokenizer *t, const char *s, size_t n)
{
	const char *p, *end = s + n;

	for (p = s; (p = mem_find(p, (size_t)(end - p), "://", 3)) != NULL; p += 3) {
		const char *sc = p;

		while (sc > s && p - sc < 16 && (ascii_class[(unsigned char)sc[-1]] == AC_LETTER ||
						 ascii_class[(unsigned char)sc[-1]] == AC_DIGIT ||
						 sc[-1] == '+' || sc[-1] == '-'))
			sc--;
		if (sc == p)
			continue;
		if (!ci_eq(sc, (size_t)(p - sc), "http") && !ci_eq(sc, (size_t)(p - sc), "https"))
			feat_add3(t, "url-scheme:", "", sc, (size_t)(p - sc));
		p = s + url_at(t, s, n, (size_t)(p + 3 - s)) - 3;
	}
	for (int pass = 0; pass < 2; pass++) {
		const char *www = pass ? "WWW." : "www.";

		for (p = s; (p = mem_find(p, (size_t)(end - p), www, 4)) != NULL; p += 4) {
			/* www. inside a longer host or after :// was done above */
			if (p > s && (is_host_byte((unsigned char)p[-1]) || p[-1] == '/' || p[-1] == '@'))
				continue;
			url_at(t, s, n, (size_t)(p - s));
		}
	}
	size_t lo = 0;

	for (p = s; (p = memchr(p, '@', (size_t)(end - p))) != NULL; p++) {
		size_t b, e;

		if (find_address(s, n, lo, (size_t)(p - s), &b, &e)) {
			address_features(t, NULL, s + b, e - b);
			p = s + e - 1;
			lo = e;
		}
	}
}

/* ------------------------------------------------------------------ */
/* body text                                                           */

/* body_text - tokenize complete text (ending at a word boundary). */
static void body_text(struct tokenizer *t, const char *s, size_t n)
{
	if (t->full)
		return;
	t->prefix = "";
	t->prefix_len = 0;
	t->chain = CHAIN_BODY;
	t->word_budget = t->body_words;
	words(t, s, n);
	t->body_words = t->word_budget;
	scan_links(t, s, n);
}

/* pending_flush - tokenize the text held back. */
static void pending_flush(struct tokenizer *t)
{
	if (t->pending.len > 0) {
		body_text(t, t->pending.data, t->pending.len);
		buf_reset(&t->pending);
	}
}

/* last_space - offset just past the last white space in s[0..n), or 0. */
static size_t last_space(const char *s, size_t n)
{
	while (n > 0 && ascii_class[(unsigned char)s[n - 1]] != AC_SPACE)
		n--;
	return n;
}

/*
 * sink_text - a chunk of body text. A word may straddle chunks, so what
 * follows the last white space is held back until the next chunk, the next
 * part or the end (up to TOK_MAX_PENDING bytes; a longer "word" is cut).
 */
static void sink_text(void *ctx, enum mime_text_kind kind, const char *text, size_t len)
{
	struct tokenizer *t = ctx;

	if (t->full)
		return;
	if (t->pending.len > 0 && kind != t->pending_kind)
		pending_flush(t);
	t->pending_kind = kind;
	if (t->pending.len > 0) {
		size_t i = 0;

		while (i < len && ascii_class[(unsigned char)text[i]] != AC_SPACE)
			i++;
		buf_append(&t->pending, text, i);
		if (i == len && t->pending.len < TOK_MAX_PENDING)
			return;
		pending_flush(t);
		text += i;
		len -= i;
	}
	size_t cut = last_space(text, len);

	if (cut == 0 && len < TOK_MAX_PENDING) {
		buf_append(&t->pending, text, len);
		return;
	}
	if (len - cut >= TOK_MAX_PENDING)
		cut = len;
	body_text(t, text, cut);
	buf_append(&t->pending, text + cut, len - cut);
}

/* sink_url - a URL from an HTML attribute. */
static void sink_url(void *ctx, const char *url, size_t len)
{
	struct tokenizer *t = ctx;
	const char *colon;

	if (t->full)
		return;
	while (len > 0 && (unsigned char)*url <= ' ')
		url++, len--;
	if (len > 7 && ascii_casecmp_n(url, "mailto:", 7) == 0) {
		size_t b, e;
		const char *at = memchr(url, '@', len);

		if (at && find_address(url, len, 7, (size_t)(at - url), &b, &e))
			address_features(t, NULL, url + b, e - b);
		return;
	}
	colon = memchr(url, ':', len < 16 ? len : 16);
	if (colon && (size_t)(colon - url) + 3 <= len && colon[1] == '/' && colon[2] == '/') {
		size_t sl = (size_t)(colon - url);

		if (!ci_eq(url, sl, "http") && !ci_eq(url, sl, "https"))
			feat_add3(t, "url-scheme:", "", url, sl);
		url_at(t, url, len, sl + 3);
	} else if (len > 2 && url[0] == '/' && url[1] == '/') {
		url_at(t, url, len, 2);
	} else if (len > 4 && ascii_casecmp_n(url, "www.", 4) == 0) {
		url_at(t, url, len, 0);
	} else if (colon) {
		/* javascript:, data:, cid: ... */
		feat_add3(t, "url-scheme:", "", url, (size_t)(colon - url));
	}
}

/* ext_ok - a file name extension worth a feature. */
static bool ext_ok(const char *e, size_t len)
{
	if (len == 0 || len > 10)
		return false;
	for (size_t i = 0; i < len; i++)
		if (ascii_class[(unsigned char)e[i]] != AC_LETTER &&
		    ascii_class[(unsigned char)e[i]] != AC_DIGIT)
			return false;
	return true;
}

/* sink_part - a MIME part begins. */
static void sink_part(void *ctx, const struct mime_part_info *info)
{
	struct tokenizer *t = ctx;

	pending_flush(t);
	osb_reset(t, CHAIN_BODY);
	if (t->full)
		return;
	if (info->type)
		feat_adds(t, "ct:", info->type);
	if (info->encoding)
		feat_adds(t, "cte:", info->encoding);
	if (info->charset)
		feat_adds(t, "charset:", info->charset);
	if (info->filename) {
		const char *dot = strrchr(info->filename, '.');
		size_t elen = dot ? strlen(dot + 1) : 0;

		buf_reset(&t->word);
		for (size_t i = 0; i < elen; i++)
			buf_putc(&t->word, (char)ascii_lower_tab[(unsigned char)dot[1 + i]]);
		if (ext_ok(t->word.data, t->word.len))
			feat_add2(t, "filename-ext:", 13, t->word.data, t->word.len);
		else
			feat_add(t, "filename-ext:none", 17);
	}
}

/* ------------------------------------------------------------------ */
/* headers                                                             */

/* prefix_set - make "pfx" the prefix of the words that follow. */
static void prefix_set(struct tokenizer *t, const char *pfx, size_t len, int chain,
		       unsigned budget)
{
	t->prefix = pfx;
	t->prefix_len = len;
	t->chain = chain;
	t->word_budget = budget;
}

/* is_own_header - a header bayesd writes; it never trains or scores. */
static bool is_own_header(const char *name, size_t len)
{
	static const char *const own[] = {
		"x-spam-status", "x-spam-flag", "x-spam-level", "x-spam-score",
	};

	for (size_t i = 0; i < ARRAY_SIZE(own); i++)
		if (ci_eq(name, len, own[i]))
			return true;
	/* X-Upstream-Spam-*: incoming X-Spam-* renamed by bayesd, never scored at SMTP */
	if (len >= 16 && ascii_casecmp_n(name, "x-upstream-spam-", 16) == 0)
		return true;
	return len >= 8 && ascii_casecmp_n(name, "x-bayesd", 8) == 0;
}

/*
 * hdr_addresses - address headers: each address, its domains, and the
 * words of what is not an address (the display names).
 */
static void hdr_addresses(struct tokenizer *t, const char *pfx, size_t pfxlen,
			  const char *v, size_t n)
{
	struct buf *rest = &t->otext;	/* free while headers are handled */
	unsigned naddr = 0;
	size_t i = 0, copied = 0;

	buf_reset(rest);
	while (i < n) {
		const char *at = memchr(v + i, '@', n - i);
		size_t b, e;

		if (at == NULL)
			break;
		i = (size_t)(at - v);
		if (!find_address(v, n, copied, i, &b, &e)) {
			i++;
			continue;
		}
		buf_append(rest, v + copied, b - copied);
		buf_putc(rest, ' ');
		copied = i = e;
		/* address_features uses t->tmp and t->ftext, not rest */
		if (naddr++ < TOK_MAX_ADDRS)
			address_features(t, pfx, v + b, e - b);
	}
	buf_append(rest, v + copied, n - copied);
	if (naddr == 0)
		feat_add2(t, pfx, pfxlen, "noaddr", 6);
	prefix_set(t, pfx, pfxlen, CHAIN_NONE, TOK_MAX_HEADER_WORDS);
	words(t, rest->data, rest->len);
}

/*
 * hdr_received - the hosts and IPs of a Received field, and its protocol
 * (the word after "with"). Hosts are fields with a dot whose last label
 * is alphabetic; IPs are dotted quads, also given as their /24.
 */
static void hdr_received(struct tokenizer *t, const char *pfx, size_t pfxlen,
			 const char *v, size_t n)
{
	const unsigned char *s = (const unsigned char *)v;
	unsigned ntok = 0;
	bool after_with = false;
	size_t i = 0;

	while (i < n && ntok < TOK_MAX_RECEIVED_TOKS) {
		size_t b, e, lastdot = 0;
		bool letter = false;

		while (i < n && !(is_host_byte(s[i]) && s[i] < 0x80))
			i++;
		b = i;
		while (i < n && is_host_byte(s[i]) && s[i] < 0x80) {
			if (s[i] == '.')
				lastdot = i;
			i++;
		}
		e = i;
		while (e > b && (s[e - 1] == '.' || s[e - 1] == '-'))
			e--;
		if (e == b)
			continue;
		if (after_with) {
			after_with = false;
			buf_reset(&t->word);
			for (size_t j = b; j < e && j - b < 20; j++)
				buf_putc(&t->word, (char)ascii_lower_tab[s[j]]);
			feat_add3(t, pfx, "with:", t->word.data, t->word.len);
			ntok++;
			continue;
		}
		if (e - b == 4 && ascii_casecmp_n(v + b, "with", 4) == 0) {
			after_with = true;
			continue;
		}
		if (is_ipv4(v + b, e - b)) {
			const char *d3 = memrchr(v + b, '.', e - b);

			feat_add3(t, pfx, "ip:", v + b, e - b);
			buf_reset(&t->word);
			buf_append(&t->word, v + b, (size_t)(d3 - (v + b)));
			buf_append(&t->word, ".0/24", 5);
			feat_add3(t, pfx, "ip:", t->word.data, t->word.len);
			ntok++;
			continue;
		}
		if (lastdot <= b || lastdot >= e)
			continue;
		for (size_t j = lastdot + 1; j < e; j++)
			letter |= ascii_class[s[j]] == AC_LETTER;
		if (!letter || e - lastdot < 3)
			continue;
		if (!host_clean(v + b, e - b, &t->tmp))
			continue;
		size_t off = reg_domain(t->tmp.data, t->tmp.len);

		buf_reset(&t->word);
		buf_append(&t->word, t->tmp.data, t->tmp.len);
		feat_add3(t, pfx, "host:", t->word.data, t->word.len);
		feat_add3(t, pfx, "domain:", t->word.data + off, t->word.len - off);
		ntok++;
	}
}

/* hdr_date - only the time zone of a Date field says anything. */
static void hdr_date(struct tokenizer *t, const char *pfx, const char *v, size_t n)
{
	const char *zone = NULL;
	size_t zlen = 0;

	for (size_t i = 0; i < n; i++) {
		if ((v[i] == '+' || v[i] == '-') && i + 5 <= n &&
		    ascii_class[(unsigned char)v[i + 1]] == AC_DIGIT &&
		    ascii_class[(unsigned char)v[i + 2]] == AC_DIGIT &&
		    ascii_class[(unsigned char)v[i + 3]] == AC_DIGIT &&
		    ascii_class[(unsigned char)v[i + 4]] == AC_DIGIT &&
		    (i + 5 == n || ascii_class[(unsigned char)v[i + 5]] != AC_DIGIT)) {
			zone = v + i;
			zlen = 5;
			break;
		}
	}
	if (zone == NULL) {
		/* a zone name: the last alphabetic field of at most 5 letters */
		size_t e = n;

		while (e > 0 && (v[e - 1] == ')' || v[e - 1] == ' '))
			e--;
		size_t b = e;

		while (b > 0 && ascii_class[(unsigned char)v[b - 1]] == AC_LETTER)
			b--;
		if (e > b && e - b <= 5) {
			zone = v + b;
			zlen = e - b;
		}
	}
	buf_reset(&t->word);
	if (zone)
		for (size_t i = 0; i < zlen; i++)
			buf_putc(&t->word, (char)ascii_lower_tab[(unsigned char)zone[i]]);
	else
		buf_append(&t->word, "none", 4);
	feat_add3(t, pfx, "tz:", t->word.data, t->word.len);
}

/* hdr_msgid - the domain of a Message-ID, nothing that is unique. */
static void hdr_msgid(struct tokenizer *t, const char *pfx, const char *v, size_t n)
{
	const char *at = memrchr(v, '@', n), *e;

	if (at == NULL) {
		feat_adds(t, pfx, "nodomain");
		return;
	}
	at++;
	e = at;
	while (e < v + n && is_host_byte((unsigned char)*e))
		e++;
	if (!host_clean(at, (size_t)(e - at), &t->tmp)) {
		feat_adds(t, pfx, "nodomain");
		return;
	}
	size_t off = reg_domain(t->tmp.data, t->tmp.len);

	feat_add3(t, pfx, "dom:", t->tmp.data + off, t->tmp.len - off);
}

/* hdr_params - the names of the parameters of a Content-Type-like value. */
static void hdr_params(struct tokenizer *t, const char *pfx, const char *v, size_t n)
{
	const char *p = v, *end = v + n;
	unsigned count = 0;

	while ((p = memchr(p, ';', (size_t)(end - p))) != NULL && count++ < 16) {
		p++;
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		const char *b = p;

		while (p < end && (ascii_class[(unsigned char)*p] == AC_LETTER ||
				   ascii_class[(unsigned char)*p] == AC_DIGIT || *p == '-' || *p == '*'))
			p++;
		if (p > b && p < end && *p == '=' && p - b <= 32) {
			buf_reset(&t->word);
			for (const char *q = b; q < p; q++)
				buf_putc(&t->word, (char)ascii_lower_tab[(unsigned char)*q]);
			feat_add3(t, pfx, "param:", t->word.data, t->word.len);
		}
	}
}

/* hdr_dkim - the d= domain of a DKIM or ARC signature. */
static void hdr_dkim(struct tokenizer *t, const char *pfx, const char *v, size_t n)
{
	for (size_t i = 0; i + 2 < n; i++) {
		if ((i == 0 || v[i - 1] == ';' || v[i - 1] == ' ' || v[i - 1] == '\t') &&
		    v[i] == 'd' && v[i + 1] == '=') {
			size_t b = i + 2, e = b;

			while (e < n && is_host_byte((unsigned char)v[e]))
				e++;
			if (host_clean(v + b, e - b, &t->tmp))
				feat_add3(t, pfx, "d:", t->tmp.data, t->tmp.len);
			return;
		}
	}
}

/* hdr_results - "method=result" pairs of Authentication-Results and kin. */
static void hdr_results(struct tokenizer *t, const char *pfx, const char *v, size_t n)
{
	unsigned count = 0;

	for (size_t i = 0; i < n && count < 16; i++) {
		if (v[i] != '=' || i == 0)
			continue;
		size_t b = i, e = i + 1;

		while (b > 0 && (ascii_class[(unsigned char)v[b - 1]] == AC_LETTER ||
				 v[b - 1] == '-') && i - b < 20)
			b--;
		while (e < n && ascii_class[(unsigned char)v[e]] == AC_LETTER && e - i < 20)
			e++;
		if (b == i || e == i + 1 || (b > 0 && v[b - 1] == '.'))
			continue;
		buf_reset(&t->word);
		for (size_t j = b; j < e; j++)
			buf_putc(&t->word, (char)ascii_lower_tab[(unsigned char)v[j]]);
		feat_add3(t, pfx, "", t->word.data, t->word.len);
		count++;
	}
}

/* name_is_one_of - name (lower-case) is in the NULL-terminated list. */
static bool name_is_one_of(const char *name, const char *const *list)
{
	for (; *list; list++)
		if ((*list)[0] == name[0] && strcmp(name, *list) == 0)
			return true;
	return false;
}

static const char *const address_headers[] = {
	"from", "to", "cc", "bcc", "reply-to", "sender", "return-path", "delivered-to",
	"errors-to", "resent-from", "resent-to", "resent-sender", "disposition-notification-to",
	NULL
};
static const char *const presence_headers[] = {
	"content-transfer-encoding", "content-id", "references", "in-reply-to",
	"thread-index", "content-length", "lines", "status", "x-status", "x-uid",
	"x-keywords", NULL
};
static const char *const dkim_headers[] = {
	"dkim-signature", "arc-message-signature", "arc-seal", "x-google-dkim-signature",
	"domainkey-signature", NULL
};
static const char *const results_headers[] = {
	"authentication-results", "received-spf", "arc-authentication-results", NULL
};

/* header_value - the rules by header name; hname holds "name:" already. */
static void header_value(struct tokenizer *t, const char *name, unsigned depth,
			 const char *v, size_t n)
{
	const char *pfx = t->hname.data;
	size_t pfxlen = t->hname.len;

	if (depth == 0) {
		if (strcmp(name, "date") == 0)
			t->seen |= SEEN_DATE;
		else if (strcmp(name, "message-id") == 0)
			t->seen |= SEEN_MSGID;
		else if (strcmp(name, "from") == 0)
			t->seen |= SEEN_FROM;
		else if (strcmp(name, "to") == 0)
			t->seen |= SEEN_TO;
		else if (strcmp(name, "subject") == 0)
			t->seen |= SEEN_SUBJECT;
	}
	if (strcmp(name, "subject") == 0) {
		osb_reset(t, CHAIN_SUBJECT);
		prefix_set(t, pfx, pfxlen, CHAIN_SUBJECT, TOK_MAX_HEADER_WORDS);
		words(t, v, n);
		scan_links(t, v, n);
	} else if (name_is_one_of(name, address_headers)) {
		hdr_addresses(t, pfx, pfxlen, v, n);
	} else if (strcmp(name, "received") == 0) {
		if (t->received_seen++ < TOK_MAX_RECEIVED)
			hdr_received(t, pfx, pfxlen, v, n);
	} else if (strcmp(name, "message-id") == 0 || strcmp(name, "resent-message-id") == 0) {
		hdr_msgid(t, pfx, v, n);
	} else if (strcmp(name, "date") == 0 || strcmp(name, "resent-date") == 0) {
		hdr_date(t, pfx, v, n);
	} else if (strcmp(name, "content-type") == 0 || strcmp(name, "content-disposition") == 0) {
		hdr_params(t, pfx, v, n);
		if (name[8] == 'd') {
			/* inline or attachment: the first word */
			prefix_set(t, pfx, pfxlen, CHAIN_NONE, 1);
			words(t, v, n);
		}
	} else if (name_is_one_of(name, presence_headers) || strncmp(name, "x-ms-exchange-", 14) == 0) {
		/* the hdr: feature says all that repeats */
	} else if (name_is_one_of(name, dkim_headers)) {
		hdr_dkim(t, pfx, v, n);
	} else {
		if (name_is_one_of(name, results_headers))
			hdr_results(t, pfx, v, n);
		prefix_set(t, pfx, pfxlen, CHAIN_NONE, TOK_MAX_HEADER_WORDS);
		words(t, v, n);
		scan_links(t, v, n);
	}
}

/* sink_header - one header field. */
static void sink_header(void *ctx, unsigned depth, const char *name, size_t name_len,
			const char *value, size_t value_len)
{
	struct tokenizer *t = ctx;
	char lname[TOK_MAX_NAME + 1];
	size_t nlen = name_len > TOK_MAX_NAME ? TOK_MAX_NAME : name_len;

	if (t->full || is_own_header(name, name_len))
		return;
	for (size_t i = 0; i < nlen; i++)
		lname[i] = (char)ascii_lower_tab[(unsigned char)name[i]];
	lname[nlen] = '\0';
	if (value_len > TOK_MAX_HEADER_BYTES)
		value_len = TOK_MAX_HEADER_BYTES;	/* may cut a character: ICU copes */
	/* "hdr:name", then "name:" as the prefix of what the value gives */
	buf_reset(&t->hname);
	if (depth > 0)
		buf_append(&t->hname, "inner-", 6);
	buf_append(&t->hname, "hdr:", 4);
	buf_append(&t->hname, lname, nlen);
	feat_add(t, t->hname.data, t->hname.len);
	buf_reset(&t->hname);
	if (depth > 0)
		buf_append(&t->hname, "inner-", 6);
	buf_append(&t->hname, lname, nlen);
	buf_putc(&t->hname, ':');
	header_value(t, lname, depth, value, value_len);
}

/* ------------------------------------------------------------------ */
/* meta                                                                */

/* tokenizer_add_meta - see tokenize.h. */
void tokenizer_add_meta(struct tokenizer *t, const char *name, const char *value)
{
	size_t vlen = strlen(value);
	unsigned char addr[16];
	char text[INET6_ADDRSTRLEN + 8];
	struct buf *pfx = &t->hname;

	if (t->full)
		return;
	if (vlen > TOK_MAX_HEADER_BYTES)
		vlen = TOK_MAX_HEADER_BYTES;
	buf_reset(pfx);
	buf_printf(pfx, "meta:%s:", name);
	for (size_t i = 0; i < pfx->len; i++)
		pfx->data[i] = (char)ascii_lower_tab[(unsigned char)pfx->data[i]];

	/* the whole value, lower-cased */
	buf_reset(&t->word);
	for (size_t i = 0; i < vlen && i < 256; i++)
		buf_putc(&t->word, (char)ascii_lower_tab[(unsigned char)value[i]]);
	feat_add2(t, pfx->data, pfx->len, t->word.data, t->word.len);

	if (inet_pton(AF_INET, t->word.data, addr) == 1) {
		snprintf(text, sizeof(text), "%u.%u.%u.0/24", addr[0], addr[1], addr[2]);
		feat_add2(t, pfx->data, pfx->len, text, strlen(text));
	} else if (inet_pton(AF_INET6, t->word.data, addr) == 1) {
		memset(addr + 6, 0, 10);
		if (inet_ntop(AF_INET6, addr, text, INET6_ADDRSTRLEN) != NULL) {
			strcat(text, "/48");
			feat_add2(t, pfx->data, pfx->len, text, strlen(text));
		}
	} else if (memchr(value, '@', vlen) != NULL) {
		hdr_addresses(t, pfx->data, pfx->len, value, vlen);
	} else if (memchr(value, '.', vlen) != NULL && vlen <= TOK_MAX_URL_HOST) {
		if (host_clean(value, vlen, &t->tmp)) {
			size_t off = reg_domain(t->tmp.data, t->tmp.len);

			buf_reset(&t->word);
			buf_append(&t->word, t->tmp.data + off, t->tmp.len - off);
			feat_add3(t, pfx->data, "domain:", t->word.data, t->word.len);
		}
	}
}

/* ------------------------------------------------------------------ */
/* life cycle                                                          */

/* tokenizer_sink - see tokenize.h. */
const struct mime_sink *tokenizer_sink(void)
{
	static const struct mime_sink sink = {
		.header = sink_header,
		.part = sink_part,
		.text = sink_text,
		.url = sink_url,
	};

	return &sink;
}

/* tokenizer_new - see tokenize.h. */
struct tokenizer *tokenizer_new(const struct tok_params *p, bool keep_text,
				char *err, size_t errlen)
{
	UErrorCode uerr = U_ZERO_ERROR;
	const UNormalizer2 *norm;
	UBreakIterator *brk;
	struct tokenizer *t;

	norm = unorm2_getNFKCCasefoldInstance(&uerr);
	if (U_FAILURE(uerr)) {
		snprintf(err, errlen, "ICU NFKC_Casefold: %s", u_errorName(uerr));
		return NULL;
	}
	/* the root locale: one set of rules whatever the process locale is */
	brk = ubrk_open(UBRK_WORD, "", NULL, 0, &uerr);
	if (U_FAILURE(uerr)) {
		snprintf(err, errlen, "ICU word break iterator: %s", u_errorName(uerr));
		return NULL;
	}
	/* tokenizers are created by several threads in the daemon */
	static pthread_once_t tables_once = PTHREAD_ONCE_INIT;

	pthread_once(&tables_once, ascii_tables_init);
	t = xcalloc(1, sizeof(*t));
	t->p = *p;
	if (t->p.max_features == 0)
		t->p.max_features = TOK_DEFAULT_MAX_FEATURES;
	if (t->p.max_word == 0)
		t->p.max_word = TOK_DEFAULT_MAX_WORD;
	if (t->p.osb_window > TOK_MAX_OSB)
		t->p.osb_window = TOK_MAX_OSB;
	t->keep_text = keep_text;
	t->norm = norm;
	t->brk = brk;
	t->brkcache = brkcache_new();
	t->slot_mask = 1024 - 1;
	t->slots = xcalloc(t->slot_mask + 1, sizeof(uint64_t));
	tokenizer_reset(t);
	return t;
}

/* tokenizer_free - see tokenize.h. */
void tokenizer_free(struct tokenizer **tp)
{
	struct tokenizer *t = *tp;

	if (t == NULL)
		return;
	ubrk_close(t->brk);
	brkcache_free(t->brkcache);
	buf_free(&t->brkwords);
	free(t->u16);
	free(t->u16n);
	free(t->slots);
	free(t->feat);
	free(t->feat_text);
	free(t->sorted);
	free(t->order);
	free(t->texts);
	buf_free(&t->arena);
	for (int c = 0; c < CHAIN_COUNT; c++)
		for (int i = 0; i < TOK_MAX_OSB; i++)
			buf_free(&t->ring[c].text[i]);
	buf_free(&t->pending);
	buf_free(&t->word);
	buf_free(&t->ftext);
	buf_free(&t->otext);
	buf_free(&t->hname);
	buf_free(&t->tmp);
	free(t);
	*tp = NULL;
}

/*
 * tokenizer_reset - see tokenize.h. The slot table is cleared slot by slot
 * when few were used: a message of 300 features should not pay for
 * clearing the table a 20000-feature one grew. Clearing in reverse order of
 * arrival keeps every probe chain intact until its own slot is cleared.
 */
void tokenizer_reset(struct tokenizer *t)
{
	if (t->nfeat * 8 < t->slot_mask + 1) {
		for (size_t i = t->nfeat; i-- > 0;) {
			size_t j = (size_t)t->feat[i] & t->slot_mask;

			while (t->slots[j] != t->feat[i])
				j = (j + 1) & t->slot_mask;
			t->slots[j] = 0;
		}
	} else {
		memset(t->slots, 0, (t->slot_mask + 1) * sizeof(uint64_t));
	}
	t->nfeat = 0;
	t->full = false;
	buf_reset(&t->arena);
	buf_reset(&t->pending);
	t->pending_kind = MIME_TEXT_PLAIN;
	osb_reset(t, CHAIN_BODY);
	osb_reset(t, CHAIN_SUBJECT);
	t->body_words = TOK_MAX_BODY_WORDS;
	t->received_seen = 0;
	t->seen = 0;
	memset(&t->fv, 0, sizeof(t->fv));
}

/* cmp_u64 - qsort order of uint64_t (for the sort's fallback). */
static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* insertion_sort - sort a[0..n) for small n, carrying idx if not NULL. */
static void insertion_sort(uint64_t *a, uint32_t *idx, size_t n)
{
	for (size_t i = 1; i < n; i++) {
		uint64_t k = a[i];
		uint32_t ki = idx ? idx[i] : 0;
		size_t j = i;

		for (; j > 0 && a[j - 1] > k; j--) {
			a[j] = a[j - 1];
			if (idx)
				idx[j] = idx[j - 1];
		}
		a[j] = k;
		if (idx)
			idx[j] = ki;
	}
}

/*
 * bucket_sort - sort the distinct hashes src[0..n) into dst, ascending.
 * Hashes are uniform, so one counting pass on the top bits (about one
 * bucket per key) leaves buckets of a handful, finished by insertion sort.
 * A bucket that is large anyway (hashes chosen by an attacker who knows
 * the seed) goes to qsort, so the worst case stays n log n. With idx,
 * idx_dst[i] gets the arrival index of dst[i] (for the texts); that case
 * keeps insertion sort, quadratic only for crafted input and only when
 * explaining one message (0.1 s at 20000 features).
 */
static void bucket_sort(struct tokenizer *t, const uint64_t *src, size_t n, uint64_t *dst,
			uint32_t *idx_dst)
{
	unsigned bits = 6;
	size_t *start;

	while (bits < 16 && ((size_t)1 << bits) < n)
		bits++;
	start = t->bucket;
	memset(start, 0, (((size_t)1 << bits) + 1) * sizeof(size_t));
	for (size_t i = 0; i < n; i++)
		start[(src[i] >> (64 - bits)) + 1]++;
	for (size_t b = 1; b <= ((size_t)1 << bits); b++)
		start[b] += start[b - 1];
	/* start[b] is now where bucket b begins; scatter, advancing it */
	for (size_t i = 0; i < n; i++) {
		size_t to = start[src[i] >> (64 - bits)]++;

		dst[to] = src[i];
		if (idx_dst)
			idx_dst[to] = (uint32_t)i;
	}
	/* start[b] is now where bucket b + 1 begins */
	for (size_t b = 0, from = 0; b < ((size_t)1 << bits); from = start[b], b++) {
		size_t len = start[b] - from;

		if (len < 2)
			continue;
		if (len <= 64 || idx_dst)
			insertion_sort(dst + from, idx_dst ? idx_dst + from : NULL, len);
		else
			qsort(dst + from, len, sizeof(uint64_t), cmp_u64);
	}
}

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

		while (i < len && i < n && ascii_lower_tab[s[i]] == (unsigned char)names[k][i])
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

		if (t->keep_text && fs_needs_text(t, h)) {
			ngram_text(t, v);
			fs_add(t, h, t->ftext.data, t->ftext.len);
		} else {
			fs_add(t, h, NULL, 0);
		}
	}
}

/* tokenizer_finish - see tokenize.h. */
const struct featvec *tokenizer_finish(struct tokenizer *t)
{
	static const struct {
		unsigned bit;
		const char *text;
	} missing[] = {
		{ SEEN_DATE, "nohdr:date" },
		{ SEEN_MSGID, "nohdr:message-id" },
		{ SEEN_FROM, "nohdr:from" },
		{ SEEN_TO, "nohdr:to" },
		{ SEEN_SUBJECT, "nohdr:subject" },
	};
	size_t n;

	pending_flush(t);
	for (size_t i = 0; i < ARRAY_SIZE(missing); i++)
		if (!(t->seen & missing[i].bit))
			feat_add(t, missing[i].text, strlen(missing[i].text));

	n = t->nfeat;
	if (n > t->sorted_cap) {
		t->sorted_cap = n + n / 2;
		free(t->sorted);
		free(t->order);
		free(t->texts);
		t->sorted = xmalloc(t->sorted_cap * sizeof(uint64_t));
		t->order = xmalloc(t->sorted_cap * sizeof(uint32_t));
		t->texts = xmalloc(t->sorted_cap * sizeof(char *));
	}
	bucket_sort(t, t->feat, n, t->sorted, t->keep_text ? t->order : NULL);
	if (t->keep_text)
		for (size_t i = 0; i < n; i++)
			t->texts[i] = t->arena.data + t->feat_text[t->order[i]];
	t->fv.hash = t->sorted;
	t->fv.text = t->keep_text ? t->texts : NULL;
	t->fv.n = n;
	t->fv.truncated = t->full;
	return &t->fv;
}

/* tokenize_message - see tokenize.h. */
const struct featvec *tokenize_message(struct tokenizer *t, const unsigned char *data,
				       size_t size, const struct mime_limits *lim,
				       unsigned *mime_flags_r)
{
	unsigned flags;

	tokenizer_reset(t);
	flags = mime_parse(data, size, lim, tokenizer_sink(), t);
	tokenizer_add_bytes(t, data, size);
	if (mime_flags_r)
		*mime_flags_r = flags;
	return tokenizer_finish(t);
}
