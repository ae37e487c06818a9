/*
 * test_tokenize.c - unit tests of the tokenizer (classifier/tokens/tokenize.c).
 *
 * Most tests drive the tokenizer through its mime_sink callbacks directly,
 * so they do not depend on the MIME walk; tokenize_message_* ones go
 * through mime_parse(). Feature texts (keep_text) make the expectations
 * readable: a test looks for "url-domain:example.co.uk", not a hash.
 */
#include "harness.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <unicode/ubrk.h>
#include <xxhash.h>
#include <unicode/ustring.h>

#include "tokens/tokenize.h"

/*
 * new_tok - a tokenizer with default parameters but an OSB window of 5,
 * keeping text: the tests exercise pairs at every distance, which the
 * default window (2: adjacent pairs only) would not show.
 */
static struct tokenizer *new_tok(bool keep_text)
{
	struct tok_params p;
	char err[256];

	tok_params_default(&p);
	p.osb_window = 5;
	return tokenizer_new(&p, keep_text, err, sizeof(err));
}

/* feed_text - one body part holding text. */
static void feed_text(struct tokenizer *t, const char *text)
{
	const struct mime_sink *s = tokenizer_sink();
	struct mime_part_info pi = { .type = "text/plain" };

	s->part(t, &pi);
	s->text(t, MIME_TEXT_PLAIN, text, strlen(text));
}

/* feed_header - one top-level header field. */
static void feed_header(struct tokenizer *t, const char *name, const char *value)
{
	tokenizer_sink()->header(t, 0, name, strlen(name), value, strlen(value));
}

/* has - fv holds the feature with this text. */
static bool has(const struct featvec *fv, const char *text)
{
	for (size_t i = 0; i < fv->n; i++)
		if (strcmp(fv->text[i], text) == 0)
			return true;
	return false;
}

/* count_prefix - features whose text starts with pfx. */
static size_t count_prefix(const struct featvec *fv, const char *pfx)
{
	size_t n = 0;

	for (size_t i = 0; i < fv->n; i++)
		if (strncmp(fv->text[i], pfx, strlen(pfx)) == 0)
			n++;
	return n;
}

/* text_of - the features of text given as one body part. */
static const struct featvec *text_of(struct tokenizer *t, const char *text)
{
	tokenizer_reset(t);
	feed_text(t, text);
	return tokenizer_finish(t);
}

#define CHECK_HAS(fv, s) do { if (!has((fv), (s))) \
	test_failf(__FILE__, __LINE__, "feature \"%s\" missing", (s)); } while (0)
#define CHECK_HASNT(fv, s) do { if (has((fv), (s))) \
	test_failf(__FILE__, __LINE__, "feature \"%s\" unexpected", (s)); } while (0)

TEST(tokenize_params_string)
{
	struct tok_params p;
	struct buf b = { 0 };

	tok_params_default(&p);
	tok_params_string(&p, &b);
	CHECK_STR(b.data, "v=2 hash=xxh3 seed=0x62617965736431 osb=2 maxword=40 maxfeat=20000 ngram=4x3000 ngramhdr=2000");
	/* no cap on the header's share: the string of the databases made before it */
	p.ngram_header_bytes = 0;
	tok_params_string(&p, &b);
	CHECK_STR(b.data, "v=2 hash=xxh3 seed=0x62617965736431 osb=2 maxword=40 maxfeat=20000 ngram=4x3000");
	p.ngram_header_bytes = 2000;
	/* without 4-grams: the string of the databases made before them */
	p.ngram_bytes = 0;
	tok_params_string(&p, &b);
	CHECK_STR(b.data, "v=2 hash=xxh3 seed=0x62617965736431 osb=2 maxword=40 maxfeat=20000");
	buf_free(&b);
}

TEST(tokenize_ascii_words)
{
	struct tokenizer *t = new_tok(true);
	const struct featvec *fv;

	REQUIRE(t);
	fv = text_of(t, "Hello WORLD, don't\tpay $1,000.50 now_or_never a.b.c _ x");
	CHECK_HAS(fv, "hello");
	CHECK_HAS(fv, "world");
	CHECK_HAS(fv, "don't");
	CHECK_HAS(fv, "1,000.50");
	CHECK_HAS(fv, "now_or_never");
	CHECK_HAS(fv, "a.b.c");
	CHECK_HAS(fv, "x");
	CHECK_HASNT(fv, "Hello");
	CHECK_HASNT(fv, "_");
	CHECK_HASNT(fv, "world,");
	/* too long: a length class instead of the word */
	fv = text_of(t, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa ok");
	CHECK_HAS(fv, "long:50");
	CHECK_HAS(fv, "osb:long:50<1>ok");
	tokenizer_free(&t);
	CHECK(t == NULL);
}

TEST(tokenize_nfkc_casefold)
{
	struct tokenizer *t = new_tok(true);
	const struct featvec *fv;

	REQUIRE(t);
	/* fullwidth letters, a ligature, sharp s, Greek final sigma, é decomposed */
	fv = text_of(t, "ＦＲＥＥ ﬁnance Straße ΟΔΟΣ cafe\xcc\x81 Ǆ");
	CHECK_HAS(fv, "free");
	CHECK_HAS(fv, "finance");
	CHECK_HAS(fv, "strasse");
	CHECK_HAS(fv, "οδοσ");
	CHECK_HAS(fv, "caf\xc3\xa9");
	CHECK_HAS(fv, "dž");
	CHECK_HASNT(fv, "ＦＲＥＥ");
	/* mixed ASCII and non-ASCII fields in one text */
	fv = text_of(t, "Buy NOW Ｖｉａｇｒａ cheap");
	CHECK_HAS(fv, "buy");
	CHECK_HAS(fv, "viagra");
	CHECK_HAS(fv, "osb:now<1>viagra");
	CHECK_HAS(fv, "osb:buy<3>cheap");
	tokenizer_free(&t);
}

TEST(tokenize_cjk)
{
	struct tokenizer *t = new_tok(true);
	const struct featvec *fv;

	REQUIRE(t);
	fv = text_of(t, "我们今天去北京");
	CHECK_HAS(fv, "北京");
	CHECK_HAS(fv, "今天");
	CHECK_HASNT(fv, "我们今天去北京");
	CHECK(count_prefix(fv, "osb:") >= 3);
	fv = text_of(t, "東京都に住んでいます。カタカナ");
	CHECK_HAS(fv, "東京");
	CHECK_HAS(fv, "ます");
	CHECK_HASNT(fv, "東京都に住んでいます");
	/* halfwidth katakana are widened by NFKC */
	fv = text_of(t, "ｶﾀｶﾅ");
	CHECK_HAS(fv, "カタカナ");
	tokenizer_free(&t);
}

TEST(tokenize_thai)
{
	struct tokenizer *t = new_tok(true);
	const struct featvec *fv;

	REQUIRE(t);
	fv = text_of(t, "สวัสดีครับ");
	CHECK_HAS(fv, "สวัสดี");
	CHECK_HAS(fv, "ครับ");
	tokenizer_free(&t);
}

TEST(tokenize_links)
{
	struct tokenizer *t = new_tok(true);
	const struct featvec *fv;

	REQUIRE(t);
	fv = text_of(t, "Visit http://user@Mail.Example.CO.UK:8080/path/offer2/Deals?id=123 or "
		     "www.Spam.com/x, write to John.Doe@Example.COM. From 192.168.1.20 "
		     "ftp://files.example.org/ HTTPS://10.0.0.1/login");
	CHECK_HAS(fv, "url:mail.example.co.uk");
	CHECK_HAS(fv, "url-domain:example.co.uk");
	CHECK_HAS(fv, "url-path:path");
	CHECK_HAS(fv, "url-path:deals");
	CHECK_HASNT(fv, "url-path:offer2");
	CHECK_HAS(fv, "url:www.spam.com");
	CHECK_HAS(fv, "url-domain:spam.com");
	CHECK_HAS(fv, "email:john.doe@example.com");
	CHECK_HAS(fv, "email-domain:example.com");
	CHECK_HAS(fv, "ip:192.168.1.20");
	CHECK_HAS(fv, "url-scheme:ftp");
	CHECK_HAS(fv, "url:files.example.org");
	CHECK_HAS(fv, "url:10.0.0.1");
	CHECK_HAS(fv, "url-ip");
	CHECK_HAS(fv, "ip:10.0.0.1");
	CHECK_HASNT(fv, "url-scheme:https");
	CHECK_HASNT(fv, "ip:999.1.1.1");

	/* URLs from HTML attributes */
	tokenizer_reset(t);
	const struct mime_sink *s = tokenizer_sink();
	const char *u1 = "https://click.tracker.net/r?x=1", *u2 = "mailto:Sales@Shop.com.au",
		*u3 = "javascript:void(0)", *u4 = "//cdn.example.com/a.png";

	s->url(t, u1, strlen(u1));
	s->url(t, u2, strlen(u2));
	s->url(t, u3, strlen(u3));
	s->url(t, u4, strlen(u4));
	fv = tokenizer_finish(t);
	CHECK_HAS(fv, "url:click.tracker.net");
	CHECK_HAS(fv, "url-domain:tracker.net");
	CHECK_HAS(fv, "email:sales@shop.com.au");
	CHECK_HAS(fv, "email-domain:shop.com.au");
	CHECK_HAS(fv, "url-scheme:javascript");
	CHECK_HAS(fv, "url:cdn.example.com");
	tokenizer_free(&t);
}

TEST(tokenize_osb_pairs)
{
	struct tokenizer *t = new_tok(true);
	const struct featvec *fv;

	REQUIRE(t);
	fv = text_of(t, "one two three");
	CHECK(count_prefix(fv, "osb:") == 3);
	CHECK_HAS(fv, "osb:one<1>two");
	CHECK_HAS(fv, "osb:two<1>three");
	CHECK_HAS(fv, "osb:one<2>three");
	/* the window: 7 words pair at distance 1..4 only */
	fv = text_of(t, "w1 w2 w3 w4 w5 w6 w7");
	CHECK_HAS(fv, "osb:w1<4>w5");
	CHECK_HASNT(fv, "osb:w1<5>w6");
	CHECK(count_prefix(fv, "osb:") == 6 + 5 + 4 + 3);
	/* pairs do not cross parts */
	tokenizer_reset(t);
	feed_text(t, "alpha");
	feed_text(t, "beta");
	fv = tokenizer_finish(t);
	CHECK(count_prefix(fv, "osb:") == 0);
	tokenizer_free(&t);

	/* window 1: no pairs */
	struct tok_params p;
	char err[128];

	tok_params_default(&p);
	p.osb_window = 1;
	t = tokenizer_new(&p, true, err, sizeof(err));
	REQUIRE(t);
	fv = text_of(t, "one two three");
	CHECK(count_prefix(fv, "osb:") == 0);
	CHECK_HAS(fv, "two");
	tokenizer_free(&t);
}

/* a message mixing headers, parts, text and URLs, as the walk reports it */
static void feed_sample(struct tokenizer *t)
{
	const struct mime_sink *s = tokenizer_sink();
	struct mime_part_info top = { .type = "multipart/mixed" };
	struct mime_part_info p1 = { .depth = 1, .index = 1, .type = "text/plain",
				     .charset = "utf-8", .encoding = "quoted-printable" };
	struct mime_part_info p2 = { .depth = 1, .index = 2, .type = "text/html",
				     .charset = "iso-8859-1" };
	struct mime_part_info p3 = { .depth = 1, .index = 3, .type = "application/octet-stream",
				     .encoding = "base64", .filename = "Invoice.PDF.exe" };
	const char *html_url = "http://www.example.net/promo";

	feed_header(t, "Received", "from mx1.spammer.example.com (unknown [203.0.113.7]) "
		    "by mail.local.example with ESMTP id 1234");
	feed_header(t, "From", "\"Cheap Meds\" <sales@pharma.example.ru>");
	feed_header(t, "To", "you@example.org");
	feed_header(t, "Subject", "Cheap meds today");
	feed_header(t, "Date", "Tue, 1 Oct 2002 10:00:00 +0200 (CEST)");
	feed_header(t, "Message-ID", "<abc.123@bulk.mailer.example.com>");
	feed_header(t, "X-Spam-Status", "Yes, score=99");
	feed_header(t, "X-Mailer", "Mass Mailer 2.0");
	s->part(t, &top);
	s->part(t, &p1);
	s->text(t, MIME_TEXT_PLAIN, "Buy now", 7);
	s->part(t, &p2);
	s->text(t, MIME_TEXT_HTML, "Click here", 10);
	s->url(t, html_url, strlen(html_url));
	s->part(t, &p3);
	tokenizer_add_meta(t, "client-ip", "203.0.113.7");
}

TEST(tokenize_headers)
{
	struct tokenizer *t = new_tok(true);
	const struct featvec *fv;

	REQUIRE(t);
	tokenizer_reset(t);
	feed_sample(t);
	fv = tokenizer_finish(t);
	CHECK_HAS(fv, "received:ip:203.0.113.7");
	CHECK_HAS(fv, "received:ip:203.0.113.0/24");
	CHECK_HAS(fv, "received:host:mx1.spammer.example.com");
	CHECK_HAS(fv, "received:domain:example.com");
	CHECK_HAS(fv, "received:with:esmtp");
	CHECK_HASNT(fv, "received:unknown");
	CHECK_HAS(fv, "from:addr:sales@pharma.example.ru");
	CHECK_HAS(fv, "from:dom:pharma.example.ru");
	CHECK_HAS(fv, "from:dom:example.ru");
	CHECK_HAS(fv, "from:cheap");
	CHECK_HAS(fv, "from:meds");
	CHECK_HAS(fv, "to:addr:you@example.org");
	CHECK_HAS(fv, "subject:cheap");
	CHECK_HAS(fv, "subject-osb:cheap<2>today");
	CHECK_HAS(fv, "date:tz:+0200");
	CHECK_HAS(fv, "message-id:dom:example.com");
	CHECK_HAS(fv, "hdr:x-mailer");
	CHECK_HAS(fv, "x-mailer:mailer");
	CHECK_HAS(fv, "ct:multipart/mixed");
	CHECK_HAS(fv, "charset:iso-8859-1");
	CHECK_HAS(fv, "cte:quoted-printable");
	CHECK_HAS(fv, "filename-ext:exe");
	CHECK_HAS(fv, "url:www.example.net");
	CHECK_HAS(fv, "url-path:promo");
	CHECK_HAS(fv, "meta:client-ip:203.0.113.7");
	CHECK_HAS(fv, "meta:client-ip:203.0.113.0/24");
	CHECK_HAS(fv, "osb:buy<1>now");
	CHECK_HASNT(fv, "osb:now<1>click");
	CHECK_HASNT(fv, "nohdr:date");
	CHECK_HASNT(fv, "date:tz:cest");
	CHECK(count_prefix(fv, "nohdr:") == 0);

	/* return-path <>, a bare message id, date with a zone name, meta helo */
	tokenizer_reset(t);
	feed_header(t, "Return-Path", "<>");
	feed_header(t, "Message-Id", "<12345>");
	feed_header(t, "Date", "Mon, 2 Sep 2002 00:00:00 GMT");
	feed_header(t, "Authentication-Results", "mx.example; spf=pass smtp.mailfrom=a.example; dkim=fail");
	feed_header(t, "DKIM-Signature", "v=1; a=rsa-sha256; d=Example.COM; s=sel; b=AAAAbbbbCCCC");
	tokenizer_add_meta(t, "helo", "MX.Foo.Example.co.jp");
	fv = tokenizer_finish(t);
	CHECK_HAS(fv, "return-path:noaddr");
	CHECK_HAS(fv, "message-id:nodomain");
	CHECK_HAS(fv, "date:tz:gmt");
	CHECK_HAS(fv, "authentication-results:spf=pass");
	CHECK_HAS(fv, "authentication-results:dkim=fail");
	CHECK_HAS(fv, "dkim-signature:d:example.com");
	CHECK_HASNT(fv, "dkim-signature:aaaabbbbcccc");
	CHECK_HAS(fv, "meta:helo:mx.foo.example.co.jp");
	CHECK_HAS(fv, "meta:helo:domain:example.co.jp");
	CHECK_HAS(fv, "nohdr:from");
	CHECK_HAS(fv, "nohdr:subject");
	tokenizer_free(&t);
}

TEST(tokenize_own_headers_ignored)
{
	struct tokenizer *t = new_tok(true);
	const struct featvec *fv;
	size_t base;

	REQUIRE(t);
	tokenizer_reset(t);
	fv = tokenizer_finish(t);
	base = fv->n;		/* the nohdr: features of an empty message */
	tokenizer_reset(t);
	feed_header(t, "X-Spam-Status", "Yes, score=12.3 required=5.0 tests=BAYES_99");
	feed_header(t, "X-Spam-Flag", "YES");
	feed_header(t, "x-spam-level", "************");
	feed_header(t, "X-Spam-Score", "12.3");
	feed_header(t, "X-Bayesd-Detail", "spam 0.999 http://example.com/");
	/* incoming X-Spam-* as the milter renamed them (upstream_headers = rename) */
	feed_header(t, "X-Upstream-Spam-Status", "No, score=-100.0 required=5.0");
	feed_header(t, "X-Upstream-Spam-Checker-Version", "SpamAssassin 3.4");
	fv = tokenizer_finish(t);
	CHECK(fv->n == base);
	CHECK(count_prefix(fv, "nohdr:") == fv->n);
	/* someone else's spam headers are evidence */
	tokenizer_reset(t);
	feed_header(t, "X-Spam-Checker-Version", "SpamAssassin 3.4");
	fv = tokenizer_finish(t);
	CHECK_HAS(fv, "x-spam-checker-version:spamassassin");
	tokenizer_free(&t);
}

TEST(tokenize_deterministic_sorted)
{
	struct tokenizer *a = new_tok(false), *b = new_tok(true);
	const char *text = "the the quick brown fox jumps over the lazy dog dog dog 北京 http://x.example.com/";
	const struct featvec *fa, *fb;

	REQUIRE(a && b);
	fa = text_of(a, text);
	CHECK(fa->text == NULL);
	fb = text_of(b, text);
	REQUIRE(fa->n == fb->n);
	CHECK(memcmp(fa->hash, fb->hash, fa->n * sizeof(uint64_t)) == 0);
	for (size_t i = 1; i < fa->n; i++)
		CHECK(fa->hash[i - 1] < fa->hash[i]);
	/* the text of each hash is the text that hashes to it */
	for (size_t i = 0; i < fb->n; i++) {
		if (strncmp(fb->text[i], "osb:", 4) != 0)
			CHECK(fb->hash[i] == XXH3_64bits_withSeed(fb->text[i], strlen(fb->text[i]),
								   TOK_DEFAULT_SEED));
	}
	/* again after a reset, and after a bigger message in between */
	uint64_t first[64];
	size_t n = fa->n < 64 ? fa->n : 64;

	memcpy(first, fa->hash, n * sizeof(uint64_t));
	char big[20000];
	size_t o = 0;

	for (int i = 0; i < 2000 && o + 10 < sizeof(big); i++)
		o += (size_t)snprintf(big + o, sizeof(big) - o, "w%d ", i);
	text_of(a, big);
	fa = text_of(a, text);
	CHECK(memcmp(first, fa->hash, n * sizeof(uint64_t)) == 0);
	/* the word "the" appears once */
	CHECK(count_prefix(fb, "the") == 1);
	tokenizer_free(&a);
	tokenizer_free(&b);
}

/* fv_copy - the hashes of fv into a new array; *n_r their number. */
static uint64_t *fv_copy(const struct featvec *fv, size_t *n_r)
{
	uint64_t *h = xmalloc((fv->n + 1) * sizeof(*h));

	memcpy(h, fv->hash, fv->n * sizeof(*h));
	*n_r = fv->n;
	return h;
}

/* subject_of - the features of a message that is one Subject field. */
static const struct featvec *subject_of(struct tokenizer *t, const char *text)
{
	tokenizer_reset(t);
	feed_header(t, "subject", text);
	return tokenizer_finish(t);
}

/*
 * A text segmented before (word_cache) gives the features a tokenizer that
 * never saw it gives: as a body, as a Subject whose word budget cuts it
 * short, and the other way round.
 */
TEST(tokenize_word_cache_same_words)
{
	char text[4000];
	size_t o = 0, nb, ns, n;
	uint64_t *body, *subj;

	for (int i = 0; i < 60; i++)
		o += (size_t)snprintf(text + o, sizeof(text) - o, "Grüße %d 我们今天去北京 ｶﾀｶﾅ ", i);
	struct tokenizer *fresh = new_tok(true);
	REQUIRE(fresh);
	body = fv_copy(text_of(fresh, text), &nb);
	tokenizer_free(&fresh);
	fresh = new_tok(true);
	REQUIRE(fresh);
	subj = fv_copy(subject_of(fresh, text), &ns);
	tokenizer_free(&fresh);
	CHECK(ns < nb);

	struct tokenizer *t = new_tok(true);
	REQUIRE(t);
	const struct featvec *fv = text_of(t, text);
	CHECK(fv->n == nb && memcmp(fv->hash, body, nb * sizeof(*body)) == 0);
	fv = text_of(t, text);			/* from the cache */
	CHECK(fv->n == nb && memcmp(fv->hash, body, nb * sizeof(*body)) == 0);
	fv = subject_of(t, text);		/* from the cache, cut short */
	CHECK(fv->n == ns && memcmp(fv->hash, subj, ns * sizeof(*subj)) == 0);
	tokenizer_free(&t);

	t = new_tok(true);
	REQUIRE(t);
	fv = subject_of(t, text);		/* cut short: not kept */
	CHECK(fv->n == ns && memcmp(fv->hash, subj, ns * sizeof(*subj)) == 0);
	fv = text_of(t, text);
	CHECK(fv->n == nb && memcmp(fv->hash, body, nb * sizeof(*body)) == 0);
	uint64_t *again = fv_copy(text_of(t, text), &n);
	CHECK(n == nb && memcmp(again, body, nb * sizeof(*body)) == 0);
	tokenizer_free(&t);
	free(again);
	free(body);
	free(subj);
}

TEST(tokenize_max_features)
{
	struct tok_params p;
	struct tokenizer *t;
	char err[128], text[2000];
	const struct featvec *fv;
	size_t o = 0;

	tok_params_default(&p);
	p.max_features = 10;
	t = tokenizer_new(&p, true, err, sizeof(err));
	REQUIRE(t);
	for (int i = 0; i < 100; i++)
		o += (size_t)snprintf(text + o, sizeof(text) - o, "word%d ", i);
	fv = text_of(t, text);
	CHECK(fv->n == 10);
	CHECK(fv->truncated);
	fv = text_of(t, "few words");
	CHECK(!fv->truncated);
	CHECK(fv->n <= 10);
	tokenizer_free(&t);
}

TEST(tokenize_chunked_text)
{
	struct tokenizer *a = new_tok(true), *b = new_tok(true);
	const char *text = "Lorem ipsum dolor sit amet, 我们今天去北京 www.example.com consectetur";
	const struct featvec *fa, *fb;
	struct mime_part_info pi = { .type = "text/plain" };

	REQUIRE(a && b);
	fa = text_of(a, text);
	/* the same text cut inside words, at character boundaries */
	for (size_t step = 1; step < 9; step++) {
		tokenizer_reset(b);
		tokenizer_sink()->part(b, &pi);
		for (size_t i = 0; text[i];) {
			size_t left = strlen(text + i), n = step < left ? step : left;

			while (n < left && ((unsigned char)text[i + n] & 0xc0) == 0x80)
				n++;
			tokenizer_sink()->text(b, MIME_TEXT_PLAIN, text + i, n);
			i += n;
		}
		fb = tokenizer_finish(b);
		CHECK(fa->n == fb->n && memcmp(fa->hash, fb->hash, fa->n * sizeof(uint64_t)) == 0);
	}
	tokenizer_free(&a);
	tokenizer_free(&b);
}

/* cmp_str - qsort order of C strings. */
static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

TEST(tokenize_ascii_matches_icu)
{
	/* the hand-written ASCII splitter must cut exactly where ICU does */
	static const char alphabet[] = "aZq09_.':,;@-/ \n!\"#$%&()*+<=>?[]^`{|}~\t";
	struct tok_params p;
	char err[128], s[40];
	UErrorCode uerr = U_ZERO_ERROR;
	UBreakIterator *brk = ubrk_open(UBRK_WORD, "", NULL, 0, &uerr);
	struct tokenizer *t;
	unsigned seed = 12345, bad = 0;

	REQUIRE(U_SUCCESS(uerr));
	tok_params_default(&p);
	p.osb_window = 1;
	t = tokenizer_new(&p, true, err, sizeof(err));
	REQUIRE(t);
	for (int round = 0; round < 3000 && bad < 5; round++) {
		UChar u[64];
		char *want[40], *got[40];
		size_t nwant = 0, ngot = 0, len = 1 + (size_t)(rand_r(&seed) % 30);
		const struct featvec *fv;

		for (size_t i = 0; i < len; i++)
			s[i] = alphabet[rand_r(&seed) % (sizeof(alphabet) - 1)];
		s[len] = '\0';
		for (size_t i = 0; i < len; i++)
			u[i] = (UChar)s[i];
		uerr = U_ZERO_ERROR;
		ubrk_setText(brk, u, (int32_t)len, &uerr);
		for (int32_t b0 = ubrk_first(brk), b1; (b1 = ubrk_next(brk)) != UBRK_DONE; b0 = b1) {
			if (ubrk_getRuleStatus(brk) < UBRK_WORD_NONE_LIMIT)
				continue;
			char *w = malloc((size_t)(b1 - b0) + 1);

			for (int32_t i = b0; i < b1; i++)
				w[i - b0] = ascii_lower(s[i]);
			w[b1 - b0] = '\0';
			want[nwant++] = w;
		}
		/* the tokenizer's words: features without a ':' */
		fv = text_of(t, s);
		for (size_t i = 0; i < fv->n; i++)
			if (!strchr(fv->text[i], ':') && ngot < 40)
				got[ngot++] = (char *)fv->text[i];
		qsort(want, nwant, sizeof(char *), cmp_str);
		size_t u_ = 0;

		for (size_t i = 0; i < nwant; i++)	/* unique, as features are */
			if (u_ == 0 || strcmp(want[u_ - 1], want[i]) != 0)
				want[u_++] = want[i];
			else
				free(want[i]);
		qsort(got, ngot, sizeof(char *), cmp_str);
		bool same = u_ == ngot;

		for (size_t i = 0; same && i < ngot; i++)
			same = strcmp(want[i], got[i]) == 0;
		if (!same) {
			test_failf(__FILE__, __LINE__, "ASCII split differs from ICU on \"%s\"", s);
			bad++;
		}
		for (size_t i = 0; i < u_; i++)
			free(want[i]);
	}
	ubrk_close(brk);
	tokenizer_free(&t);
}

TEST(tokenize_golden_sample)
{
	struct tokenizer *t = new_tok(true);
	const struct featvec *fv;
	struct buf out = { 0 };
	const char **texts;

	REQUIRE(t);
	tokenizer_reset(t);
	feed_sample(t);
	fv = tokenizer_finish(t);
	/* sorted by text so the file reads well and does not depend on hashes */
	texts = malloc(fv->n * sizeof(char *));
	memcpy(texts, fv->text, fv->n * sizeof(char *));
	qsort(texts, fv->n, sizeof(char *), cmp_str);
	for (size_t i = 0; i < fv->n; i++)
		buf_printf(&out, "%s\n", texts[i]);
	CHECK_GOLDEN("tok-sample.txt", out.data, out.len);
	free(texts);
	buf_free(&out);
	tokenizer_free(&t);
}

/*
 * The registered domain comes from the public suffix list (libpsl), private
 * section included: each github.io and blogspot.com site is its own domain
 * (the old two-label heuristic gave every one "github.io"), co.uk and
 * com.au keep three labels, and a host that is a suffix itself is whole.
 */
TEST(tokenize_registered_domain)
{
	struct tokenizer *t = new_tok(true);
	const struct featvec *fv;

	REQUIRE(t);
	fv = text_of(t, "see https://evil-phish.github.io/login and http://www.cheap-pills.blogspot.com/ "
		     "or http://shop.example.co.uk/x and https://a.b.news.bbc.co.uk/ and "
		     "https://mail.google.com/ http://x.y.z.example.com.au/ "
		     "write to someone@mail.shop.example.co.uk");
	CHECK_HAS(fv, "url-domain:evil-phish.github.io");
	CHECK_HASNT(fv, "url-domain:github.io");
	CHECK_HAS(fv, "url-domain:cheap-pills.blogspot.com");
	CHECK_HASNT(fv, "url-domain:blogspot.com");
	CHECK_HAS(fv, "url-domain:example.co.uk");
	CHECK_HAS(fv, "url-domain:bbc.co.uk");
	CHECK_HASNT(fv, "url-domain:co.uk");
	CHECK_HAS(fv, "url-domain:google.com");
	CHECK_HAS(fv, "url-domain:example.com.au");
	CHECK_HAS(fv, "email-domain:example.co.uk");
	/* a host that is a public suffix itself is its own domain */
	fv = text_of(t, "http://github.io/ and http://co.uk/");
	CHECK_HAS(fv, "url-domain:github.io");
	CHECK_HAS(fv, "url-domain:co.uk");
	tokenizer_free(&t);
}

TEST(tokenize_address_edge_cases)
{
	/* used to underflow: a second '@' right after an address's domain */
	struct tokenizer *t = new_tok(true);
	const struct featvec *fv;

	REQUIRE(t);
	tokenizer_reset(t);
	feed_header(t, "From", "joko@rs.128.ne.jp@FreeBSD.ORG");
	feed_header(t, "To", "@@a@b.c@@d.e@");
	fv = tokenizer_finish(t);
	CHECK_HAS(fv, "from:addr:joko@rs.128.ne.jp");
	fv = text_of(t, "x@y.z@w.v @ @. a@ @b.c a@b.c.d.e.f.g");
	CHECK_HAS(fv, "email:x@y.z");
	CHECK_HAS(fv, "email:a@b.c.d.e.f.g");
	tokenizer_free(&t);
}

TEST(tokenize_garbage_survives)
{
	/* random bytes through every callback and header rule: no crash (ASan) */
	static const char *const names[] = {
		"From", "To", "Received", "Subject", "Date", "Message-ID", "Content-Type",
		"DKIM-Signature", "Authentication-Results", "X-Other", "Return-Path",
	};
	static const char alphabet[] = "a.@:/w<>\"'()[];=-+_0129 \t\xc3\xa9\xe4\xb8\xad\xff\x80";
	struct tokenizer *t = new_tok(true);
	unsigned seed = 7;
	char s[300];

	REQUIRE(t);
	for (int round = 0; round < 2000; round++) {
		size_t len = (size_t)(rand_r(&seed) % sizeof(s));
		struct mime_part_info pi = { .type = "text/plain", .filename = s };

		for (size_t i = 0; i < len; i++)
			s[i] = alphabet[rand_r(&seed) % (sizeof(alphabet) - 1)];
		s[len] = '\0';
		tokenizer_reset(t);
		tokenizer_sink()->header(t, round & 1, names[round % ARRAY_SIZE(names)],
					 strlen(names[round % ARRAY_SIZE(names)]), s, len);
		tokenizer_sink()->part(t, &pi);
		tokenizer_sink()->text(t, MIME_TEXT_HTML, s, len);
		tokenizer_sink()->url(t, s, len);
		tokenizer_add_meta(t, "helo", s);
		CHECK(tokenizer_finish(t)->n > 0);
	}
	tokenizer_free(&t);
}

/* ngrams - the 4-gram features of msg, sorted, into out; their number */
static size_t ngrams(const char *msg, uint64_t *out, size_t max)
{
	struct tokenizer *t = new_tok(true);
	size_t k = 0;

	tokenizer_reset(t);
	tokenizer_add_bytes(t, (const unsigned char *)msg, strlen(msg));
	const struct featvec *fv = tokenizer_finish(t);
	for (size_t i = 0; i < fv->n && k < max; i++)
		if (strncmp(fv->text[i], "4g:", 3) == 0)
			out[k++] = fv->hash[i];
	tokenizer_free(&t);
	return k;
}

TEST(tokenize_byte_ngrams)
{
	uint64_t a[256], b[256];
	struct tokenizer *t = new_tok(true);

	/* "abcdef" gives abcd, bcde, cdef; CR is skipped, \n rendered */
	tokenizer_reset(t);
	tokenizer_add_bytes(t, (const unsigned char *)"ab\r\ncd", 6);
	const struct featvec *fv = tokenizer_finish(t);
	CHECK_HAS(fv, "4g:ab\\x0ac");
	CHECK_HAS(fv, "4g:b\\x0acd");
	CHECK(count_prefix(fv, "4g:") == 2);
	tokenizer_free(&t);
	/* LF and CRLF line ends give the same 4-grams */
	size_t na = ngrams("Subject: hi\n\nbody text\n", a, 256);
	size_t nb = ngrams("Subject: hi\r\n\r\nbody text\r\n", b, 256);
	CHECK(na > 10 && na == nb && memcmp(a, b, na * sizeof(*a)) == 0);
	/* a verdict header (folded or not) is not in them, in any case */
	nb = ngrams("Subject: hi\nX-Spam-Status: Yes, score=0.99\n\tfolded\n"
		    "x-bayesd-score: 0.9\n\nbody text\n", b, 256);
	CHECK(na == nb && memcmp(a, b, na * sizeof(*a)) == 0);
	/* ... but the same words in the body are */
	nb = ngrams("Subject: hi\n\nbody text\nX-Spam-Status: Yes\n", b, 256);
	CHECK(nb > na);
	/* only the first ngram_bytes bytes */
	struct tok_params p;
	char err[256];
	tok_params_default(&p);
	p.ngram_bytes = 5;
	t = tokenizer_new(&p, true, err, sizeof(err));
	REQUIRE(t);
	tokenizer_reset(t);
	tokenizer_add_bytes(t, (const unsigned char *)"abcdefghij", 10);
	fv = tokenizer_finish(t);
	CHECK(count_prefix(fv, "4g:") == 2);
	tokenizer_free(&t);
	/* of the header at most ngram_header_bytes (here 8: "Subject:"), the
	 * rest of the budget goes to the body */
	tok_params_default(&p);
	p.ngram_bytes = 16;
	p.ngram_header_bytes = 8;
	t = tokenizer_new(&p, true, err, sizeof(err));
	REQUIRE(t);
	tokenizer_reset(t);
	static const char capped[] = "Subject: a long header line\nTo: x\n\nbody words";
	tokenizer_add_bytes(t, (const unsigned char *)capped, strlen(capped));
	fv = tokenizer_finish(t);
	CHECK_HAS(fv, "4g:Subj");
	CHECK_HAS(fv, "4g:ect:");
	CHECK(!has(fv, "4g:ct: "));	/* the 9th header byte is past the cap */
	CHECK(!has(fv, "4g:To: "));
	CHECK_HAS(fv, "4g:\\x0abod");	/* the empty line and the body */
	CHECK_HAS(fv, "4g:body");
	CHECK_HAS(fv, "4g:y wo");	/* 8 header + 8 body bytes: "\nbody wo" */
	CHECK(!has(fv, "4g: wor"));
	CHECK(count_prefix(fv, "4g:") == 13);
	tokenizer_free(&t);
	/* 0: no cap, the budget is spent on the header first */
	p.ngram_header_bytes = 0;
	t = tokenizer_new(&p, true, err, sizeof(err));
	REQUIRE(t);
	tokenizer_reset(t);
	tokenizer_add_bytes(t, (const unsigned char *)capped, strlen(capped));
	fv = tokenizer_finish(t);
	CHECK_HAS(fv, "4g:ct: ");
	CHECK(!has(fv, "4g:body"));
	tokenizer_free(&t);
}

TEST(tokenize_message_whole)
{
	/* through the real MIME walk: headers, base64 UTF-8 text, HTML link */
	static const char msg[] =
		"Received: from mx.sender.example (mx.sender.example [198.51.100.9])\r\n"
		"\tby mx.local.example with ESMTPS id 42\r\n"
		"From: Lucky Winner <win@prizes.example.co.uk>\r\n"
		"To: you@example.org\r\n"
		"Subject: =?UTF-8?B?5YWN6LS5?= prize\r\n"
		"X-Spam-Status: No, score=-5\r\n"
		"MIME-Version: 1.0\r\n"
		"Content-Type: multipart/alternative; boundary=\"b1\"\r\n"
		"\r\n"
		"--b1\r\n"
		"Content-Type: text/plain; charset=utf-8\r\n"
		"Content-Transfer-Encoding: base64\r\n"
		"\r\n"
		"5oiR5Lus5LuK5aSp5Y675YyX5LqsIGNoZWFw\r\n"
		"--b1\r\n"
		"Content-Type: text/html; charset=us-ascii\r\n"
		"\r\n"
		"<html><body><a href=\"http://Track.Click.example.com/go\">Claim</a> now</body></html>\r\n"
		"--b1--\r\n";
	struct tokenizer *t = new_tok(true);
	const struct featvec *fv;
	unsigned flags = 12345;

	REQUIRE(t);
	fv = tokenize_message(t, (const unsigned char *)msg, sizeof(msg) - 1, NULL, &flags);
	CHECK(flags != 12345);
	CHECK_HAS(fv, "received:ip:198.51.100.9");
	CHECK_HAS(fv, "received:with:esmtps");
	CHECK_HAS(fv, "from:addr:win@prizes.example.co.uk");
	CHECK_HAS(fv, "from:dom:example.co.uk");
	CHECK_HAS(fv, "from:lucky");
	CHECK_HAS(fv, "subject:免费");
	CHECK_HAS(fv, "subject:prize");
	CHECK_HAS(fv, "ct:multipart/alternative");
	CHECK_HAS(fv, "ct:text/html");
	CHECK_HAS(fv, "cte:base64");
	CHECK_HAS(fv, "北京");
	CHECK_HAS(fv, "cheap");
	CHECK_HAS(fv, "claim");
	CHECK_HAS(fv, "url:track.click.example.com");
	CHECK_HAS(fv, "url-domain:example.com");
	CHECK(count_prefix(fv, "x-spam-status") == 0);
	CHECK_HASNT(fv, "hdr:x-spam-status");
	CHECK(!fv->truncated);
	/* the same bytes again: the same features */
	uint64_t first[4096];
	size_t n = fv->n;

	REQUIRE(n <= 4096);
	memcpy(first, fv->hash, n * sizeof(uint64_t));
	fv = tokenize_message(t, (const unsigned char *)msg, sizeof(msg) - 1, NULL, NULL);
	CHECK(fv->n == n && memcmp(first, fv->hash, n * sizeof(uint64_t)) == 0);
	tokenizer_free(&t);
}
