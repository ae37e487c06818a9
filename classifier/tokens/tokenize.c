/*
 * tokenize.c - turn the events of a MIME walk into features. See tokenize.h.
 *
 * This file holds the parameters, the feature set, the life cycle and the
 * sorted result; the rules below are carried out by tokenize_words.c
 * (words, OSB pairs), tokenize_links.c (URLs, addresses, registered
 * domains), tokenize_body.c (text, URL and part events),
 * tokenize_headers.c (header events, meta) and tokenize_ngrams.c (byte
 * 4-grams), which share tokenize_internal.h.
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
 *	ngram_header_bytes: the rest goes to the body. A header is the
 *	receiving site's as much as the sender's (relays, trace fields,
 *	signatures; half of csdmc2010's are over 3000 bytes), and without the
 *	cap a long one took the whole budget, so what was learned from one
 *	stream's headers did not carry to another's mail (README):
 *	readable "4g:" plus the bytes (\xHH for what is not printable ASCII).
 *	Like OSB pairs they hash the bytes directly (ngram_hash()). They carry
 *	what words do not: the mailer's header layout, encodings, markup, and
 *	they transfer better from one mail stream to another (README).
 * Meta (tokenizer_add_meta): "meta:name:value"; an IP value also gives its
 *	/24 (IPv4) or /48 (IPv6); a host name its "meta:name:domain:regdom";
 *	an address the address features with prefix "meta:name".
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

unsigned char tok_ascii_class[256];
unsigned char tok_ascii_lower_tab[256];

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
		tok_ascii_class[c] = k;
		tok_ascii_lower_tab[c] = (unsigned char)((c >= 'A' && c <= 'Z') ? c + 32 : c);
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
 * tok_fs_add - add feature h with readable text txt (may be NULL unless
 * keep_text). Hash 0 marks an empty slot, so it is stored as 1: one text in
 * 2^64 shares a hash with another, which no one will notice.
 */
void tok_fs_add(struct tokenizer *t, uint64_t h, const char *txt, size_t len)
{
	size_t j;

	if (h == 0)
		h = 1;
	j = tok_fs_slot(t, h);
	if (t->slots[j] != 0)
		return;		/* already kept */
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

/* tok_feat_add - hash and add a feature given as one string. */
void tok_feat_add(struct tokenizer *t, const char *s, size_t len)
{
	tok_fs_add(t, tok_hash_text(t, s, len), s, len);
}

/* tok_feat_add2 - add the feature a + b (a prefix and a value). */
void tok_feat_add2(struct tokenizer *t, const char *a, size_t alen, const char *b, size_t blen)
{
	buf_reset(&t->ftext);
	buf_append(&t->ftext, a, alen);
	buf_append(&t->ftext, b, blen);
	tok_feat_add(t, t->ftext.data, t->ftext.len);
}

/* tok_feat_adds - add the feature a + b, both C strings. */
void tok_feat_adds(struct tokenizer *t, const char *a, const char *b)
{
	tok_feat_add2(t, a, strlen(a), b, strlen(b));
}

/* tok_feat_add3 - add the feature a + b + c; c has length clen. */
void tok_feat_add3(struct tokenizer *t, const char *a, const char *b, const char *c, size_t clen)
{
	buf_reset(&t->ftext);
	buf_append(&t->ftext, a, strlen(a));
	buf_append(&t->ftext, b, strlen(b));
	buf_append(&t->ftext, c, clen);
	tok_feat_add(t, t->ftext.data, t->ftext.len);
}

/* ------------------------------------------------------------------ */
/* life cycle                                                          */

/* tokenizer_sink - see tokenize.h. */
const struct mime_sink *tokenizer_sink(void)
{
	static const struct mime_sink sink = {
		.header = tok_sink_header,
		.part = tok_sink_part,
		.text = tok_sink_text,
		.url = tok_sink_url,
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
	t->word_cache = word_cache_new();
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
	word_cache_free(t->word_cache);
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
	tok_osb_reset(t, CHAIN_BODY);
	tok_osb_reset(t, CHAIN_SUBJECT);
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

	tok_pending_flush(t);
	for (size_t i = 0; i < ARRAY_SIZE(missing); i++)
		if (!(t->seen & missing[i].bit))
			tok_feat_add(t, missing[i].text, strlen(missing[i].text));

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
