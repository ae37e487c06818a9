/*
 * test_mime.c - the MIME walk: headers, nested multiparts and messages,
 * transfer encodings, limits and hostile structure.
 */
#include "harness.h"

#include "message/charset.h"
#include "message/mime.h"
#include "util.h"

#include <stdlib.h>
#include <time.h>

/* struct rec - what a recording sink saw. */
struct rec {
	struct buf log;
	bool sizes;		/* log raw_size of parts */
	unsigned nparts, nheaders, maxdepth;
	size_t text_len;
	bool bad_utf8;
};

/* note - append a string to the log, checking it is NUL-terminated UTF-8. */
static void note(struct rec *r, const char *s, size_t n)
{
	if (s[n] != '\0' || charset_utf8_valid(s, n) != n || memchr(s, '\0', n)) {
		r->bad_utf8 = true;
		if (getenv("MIME_DEBUG"))
			fprintf(stderr, "bad: [%.*s] %zu %zu\n", (int)n, s, charset_utf8_valid(s, n), n);
	}
	buf_append(&r->log, s, n);
}

static void rec_header(void *ctx, unsigned depth, const char *name, size_t nlen,
		       const char *value, size_t vlen)
{
	struct rec *r = ctx;

	r->nheaders++;
	buf_printf(&r->log, "H%u ", depth);
	note(r, name, nlen);
	buf_append(&r->log, ": ", 2);
	note(r, value, vlen);
	buf_putc(&r->log, '\n');
}

static void rec_part(void *ctx, const struct mime_part_info *info)
{
	struct rec *r = ctx;

	r->nparts++;
	if (info->depth > r->maxdepth)
		r->maxdepth = info->depth;
	buf_printf(&r->log, "P depth=%u index=%u %s charset=%s enc=%s file=%s", info->depth,
		   info->index, info->type, info->charset ? info->charset : "-",
		   info->encoding ? info->encoding : "-", info->filename ? info->filename : "-");
	if (r->sizes)
		buf_printf(&r->log, " size=%zu", info->raw_size);
	buf_putc(&r->log, '\n');
}

static void rec_text(void *ctx, enum mime_text_kind kind, const char *text, size_t len)
{
	struct rec *r = ctx;

	r->text_len += len;
	buf_append(&r->log, kind == MIME_TEXT_HTML ? "T html: " : "T plain: ", kind == MIME_TEXT_HTML ? 8 : 9);
	note(r, text, len);
	buf_putc(&r->log, '\n');
}

static void rec_url(void *ctx, const char *url, size_t len)
{
	struct rec *r = ctx;

	buf_append(&r->log, "U ", 2);
	note(r, url, len);
	buf_putc(&r->log, '\n');
}

static const struct mime_sink rec_sink = { rec_header, rec_part, rec_text, rec_url };

/* walk - parse msg[0..n) with lim, recording into r (reset first). */
static unsigned walk(struct rec *r, const char *msg, size_t n, const struct mime_limits *lim)
{
	buf_reset(&r->log);
	r->nparts = r->nheaders = r->maxdepth = 0;
	r->text_len = 0;
	r->bad_utf8 = false;
	return mime_parse((const unsigned char *)msg, n, lim, &rec_sink, r);
}

/* to_crlf - the same message with CRLF line ends. */
static void to_crlf(const char *s, struct buf *out)
{
	for (; *s; s++) {
		if (*s == '\n')
			buf_putc(out, '\r');
		buf_putc(out, *s);
	}
}

TEST(mime_simple_untyped)
{
	static const char msg[] =
		"From sender@example.com Mon Jan  1 00:00:00 2024\n"
		"Subject: a folded\n"
		"\tsubject line\n"
		"From: =?utf-8?Q?Ren=C3=A9?= <rene@example.com>\n"
		"Received: from a\n"
		"Received: from b\n"
		"X-Empty:\n"
		"\n"
		"Hello world.\n";
	struct rec r = { 0 };
	unsigned f = walk(&r, msg, strlen(msg), NULL);

	CHECK(f == 0);
	/* Expected output written by hand. */
	CHECK_STR(r.log.data,
		  "H0 Subject: a folded\tsubject line\n"
		  "H0 From: René <rene@example.com>\n"
		  "H0 Received: from a\n"
		  "H0 Received: from b\n"
		  "H0 X-Empty: \n"
		  "P depth=0 index=0 text/plain charset=- enc=- file=-\n"
		  "T plain: Hello world.\n\n");
	CHECK(!r.bad_utf8);
	buf_free(&r.log);
}

static const char nested_msg[] =
	"From: a@example.com\n"
	"Subject: =?iso-8859-1?Q?R=E9union?= =?iso-8859-1?Q?_caf=E9?=\n"
	"MIME-Version: 1.0\n"
	"Content-Type: multipart/mixed; boundary=\"outer\"\n"
	"\n"
	"This is the preamble, ignored.\n"
	"--outer\n"
	"Content-Type: multipart/alternative;\n"
	" boundary=inner\n"
	"\n"
	"--inner\n"
	"Content-Type: text/plain; charset=utf-8\n"
	"Content-Transfer-Encoding: quoted-printable\n"
	"\n"
	"R=C3=A9union =\n"
	"demain =C3=A0 10h.\n"
	"--inner\n"
	"Content-Type: text/html; charset=\"iso-8859-1\"\n"
	"Content-Transfer-Encoding: base64\n"
	"\n"
	"PHA+Uul1bmlvbiA8YSBocmVmPSJodHRwOi8vZXguY29tLyI+aWNpPC9hPjwvcD4=\n"
	"--inner--\n"
	"epilogue of inner, ignored\n"
	"--outer\n"
	"Content-Type: message/rfc822\n"
	"\n"
	"From: b@example.com\n"
	"Subject: inner message\n"
	"Content-Type: multipart/mixed; boundary=\"deep\"\n"
	"\n"
	"--deep\n"
	"\n"
	"Deep text.\n"
	"--deep\n"
	"Content-Type: application/pdf; name=\"ignored.pdf\"\n"
	"Content-Disposition: attachment;\n"
	" filename*0*=utf-8''%E2%82%AC-;\n"
	" filename*1=\"report.pdf\"\n"
	"Content-Transfer-Encoding: base64\n"
	"\n"
	"JVBERi0xLjQK\n"
	"--deep--\n"
	"--outer--\n"
	"Epilogue, ignored.\n";

TEST(mime_nested_golden)
{
	struct rec r = { 0 };

	r.sizes = true;
	unsigned f = walk(&r, nested_msg, strlen(nested_msg), NULL);
	CHECK(f == MIME_ERR_ENCODING || f == 0);
	CHECK(!r.bad_utf8);
	CHECK(r.nparts == 8);
	CHECK_GOLDEN("mime-nested.txt", r.log.data, r.log.len);
	buf_free(&r.log);
}

TEST(mime_crlf_same_as_lf)
{
	struct rec a = { 0 }, b = { 0 };
	struct buf crlf = { 0 };

	to_crlf(nested_msg, &crlf);
	unsigned fa = walk(&a, nested_msg, strlen(nested_msg), NULL);
	unsigned fb = walk(&b, crlf.data, crlf.len, NULL);
	CHECK(fa == fb);
	/* Texts keep their own line ends; compare with CR removed. */
	size_t k = 0;
	for (size_t i = 0; i < b.log.len; i++)
		if (b.log.data[i] != '\r')
			b.log.data[k++] = b.log.data[i];
	b.log.len = k;
	CHECK_MEM(b.log.data, b.log.len, a.log.data, a.log.len);
	buf_free(&a.log);
	buf_free(&b.log);
	buf_free(&crlf);
}

TEST(mime_boundary_problems)
{
	struct rec r = { 0 };
	const char *never_closed =
		"Content-Type: multipart/mixed; boundary=b1\n\n"
		"--b1\nContent-Type: text/plain\n\nfirst\n"
		"--b1\nContent-Type: text/plain\n\nsecond, and no end\n";
	unsigned f = walk(&r, never_closed, strlen(never_closed), NULL);
	CHECK(f & MIME_ERR_BOUNDARY);
	CHECK(strstr(r.log.data, "T plain: first\n") != NULL);
	CHECK(strstr(r.log.data, "T plain: second, and no end\n\n") != NULL);

	const char *missing = "Content-Type: multipart/mixed\n\n--x\n\nhidden text\n--x--\n";
	f = walk(&r, missing, strlen(missing), NULL);
	CHECK(f & MIME_ERR_BOUNDARY);
	CHECK(strstr(r.log.data, "hidden text") != NULL);

	const char *absent = "Content-Type: multipart/mixed; boundary=zz\n\nno delimiter at all\n";
	f = walk(&r, absent, strlen(absent), NULL);
	CHECK(f & MIME_ERR_BOUNDARY);
	CHECK(strstr(r.log.data, "no delimiter at all") != NULL);

	/* An inner multipart that never closes is ended by the outer boundary. */
	const char *inner_open =
		"Content-Type: multipart/mixed; boundary=out\n\n"
		"--out\nContent-Type: multipart/alternative; boundary=in\n\n"
		"--in\n\ninner text\n"
		"--out\n\nafter inner\n--out--\n";
	f = walk(&r, inner_open, strlen(inner_open), NULL);
	CHECK(f & MIME_ERR_BOUNDARY);
	CHECK(strstr(r.log.data, "T plain: inner text\n") != NULL);
	CHECK(strstr(r.log.data, "P depth=1 index=3 text/plain") != NULL);
	CHECK(strstr(r.log.data, "T plain: after inner\n") != NULL);

	/* Boundary lines with trailing blanks and a prefix-sharing inner one. */
	const char *prefix =
		"Content-Type: multipart/mixed; boundary=\"ab\"\n\n"
		"--ab  \nContent-Type: multipart/mixed; boundary=\"ab-1\"\n\n"
		"--ab-1\n\none\n--ab-1--\n--ab--\t\n";
	f = walk(&r, prefix, strlen(prefix), NULL);
	CHECK(f == 0);
	CHECK(strstr(r.log.data, "T plain: one\n") != NULL);
	buf_free(&r.log);
}

/* many_parts - a multipart with n tiny parts. */
static void many_parts(struct buf *m, unsigned n)
{
	buf_append(m, "Content-Type: multipart/mixed; boundary=p\n\n", 43);
	for (unsigned i = 0; i < n; i++)
		buf_printf(m, "--p\n\npart %u\n", i);
	buf_append(m, "--p--\n", 6);
}

TEST(mime_part_limit)
{
	struct rec r = { 0 };
	struct buf m = { 0 };

	many_parts(&m, 10000);
	unsigned f = walk(&r, m.data, m.len, NULL);
	CHECK(f & MIME_ERR_PARTS);
	CHECK(r.nparts == MIME_DEFAULT_MAX_PARTS);
	CHECK(strstr(r.log.data, "part 998\n") != NULL);
	CHECK(strstr(r.log.data, "part 999\n") == NULL);

	/* 100,000 tiny parts with the limit raised: linear. */
	struct mime_limits lim;
	mime_limits_default(&lim);
	lim.max_parts = 200000;
	buf_reset(&m);
	many_parts(&m, 100000);
	clock_t c0 = clock();
	f = walk(&r, m.data, m.len, &lim);
	double sec = (double)(clock() - c0) / CLOCKS_PER_SEC;
	CHECK(!(f & MIME_ERR_PARTS));
	CHECK(r.nparts == 100001);
	CHECK(sec < 5.0);
	buf_free(&m);
	buf_free(&r.log);
}

TEST(mime_nesting_limit)
{
	struct rec r = { 0 };
	struct buf m = { 0 };
	unsigned depth = 1000;

	for (unsigned i = 0; i < depth; i++)
		buf_printf(&m, "Content-Type: multipart/mixed; boundary=\"b%u\"\n\n--b%u\n", i, i);
	buf_append(&m, "\ninnermost\n", 11);
	for (unsigned i = depth; i-- > 0;)
		buf_printf(&m, "--b%u--\n", i);
	clock_t c0 = clock();
	unsigned f = walk(&r, m.data, m.len, NULL);
	CHECK(f & MIME_ERR_NESTING);
	CHECK(r.maxdepth == MIME_DEFAULT_MAX_DEPTH);
	CHECK(strstr(r.log.data, "innermost") == NULL);

	/* Raised limit: the innermost text is reached, still fast. */
	struct mime_limits lim;
	mime_limits_default(&lim);
	lim.max_depth = 2000;
	lim.max_parts = 2000;
	f = walk(&r, m.data, m.len, &lim);
	CHECK(!(f & MIME_ERR_NESTING));
	CHECK(strstr(r.log.data, "T plain: innermost\n") != NULL);

	/* message/rfc822 nesting counts too. */
	buf_reset(&m);
	for (unsigned i = 0; i < depth; i++)
		buf_append(&m, "Content-Type: message/rfc822\n\n", 30);
	buf_append(&m, "Subject: deep\n\ndeep text\n", 25);
	f = walk(&r, m.data, m.len, NULL);
	CHECK(f & MIME_ERR_NESTING);
	CHECK(r.maxdepth == MIME_DEFAULT_MAX_DEPTH);
	double sec = (double)(clock() - c0) / CLOCKS_PER_SEC;
	CHECK(sec < 5.0);
	buf_free(&m);
	buf_free(&r.log);
}

TEST(mime_nul_and_8bit_headers)
{
	struct rec r = { 0 };
	static const char msg[] =
		"Subject: caf\xe9 cr\xe8me br\xfbl\xe9\x65\n"
		"X-Utf8: d\xc3\xa9j\xc3\xa0 vu\n"
		"X-Nul: a\0b\n"
		"\n"
		"body\0with NUL\n";
	unsigned f = walk(&r, msg, sizeof(msg) - 1, NULL);

	CHECK(f & MIME_ERR_8BIT_HEADER);
	CHECK(f & MIME_ERR_NUL);
	CHECK(!r.bad_utf8);
	CHECK(strstr(r.log.data, "H0 Subject: café crème brûlée\n") != NULL);
	CHECK(strstr(r.log.data, "H0 X-Utf8: déjà vu\n") != NULL);
	CHECK(strstr(r.log.data, "H0 X-Nul: a b\n") != NULL);
	CHECK(strstr(r.log.data, "T plain: body with NUL\n") != NULL);
	buf_free(&r.log);
}

TEST(mime_duplicates_and_defaults)
{
	struct rec r = { 0 };
	static const char msg[] =
		"Content-Type: text/html\n"
		"Content-Type: text/plain\n"
		"Content-Transfer-Encoding: x-unknown\n"
		"\n"
		"<b>bold</b> =41\n";
	walk(&r, msg, strlen(msg), NULL);
	CHECK(strstr(r.log.data, "P depth=0 index=0 text/html charset=- enc=x-unknown") != NULL);
	CHECK(strstr(r.log.data, "T html: bold =41\n") != NULL);

	/* No blank line after the headers: the first non-header line is body. */
	static const char nob[] = "Subject: x\nthis is body\n";
	walk(&r, nob, strlen(nob), NULL);
	CHECK(strstr(r.log.data, "T plain: this is body\n") != NULL);

	/* multipart/digest parts default to message/rfc822. */
	static const char dig[] = "Content-Type: multipart/digest; boundary=d\n\n--d\n\n"
				  "Subject: digested\n\ntext\n--d--\n";
	walk(&r, dig, strlen(dig), NULL);
	CHECK(strstr(r.log.data, "message/rfc822") != NULL);
	CHECK(strstr(r.log.data, "H2 Subject: digested\n") != NULL);

	/* Empty message. */
	unsigned f = walk(&r, "", 0, NULL);
	CHECK(f == 0 && r.nparts == 1);
	buf_free(&r.log);
}

TEST(mime_limits_cut)
{
	struct rec r = { 0 };
	struct mime_limits lim;
	struct buf m = { 0 };

	mime_limits_default(&lim);
	lim.max_text_bytes = 10;
	const char *msg = "\n\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9 and more";
	unsigned f = walk(&r, msg, strlen(msg), &lim);
	CHECK(f & MIME_ERR_TRUNC_TEXT);
	CHECK(r.text_len == 10);
	CHECK(!r.bad_utf8);

	lim.max_text_bytes = 100;
	lim.max_part_bytes = 5;
	f = walk(&r, msg, strlen(msg), &lim);
	CHECK(f & MIME_ERR_TRUNC_PART);
	CHECK(!(f & MIME_ERR_CHARSET));
	CHECK_STR(r.log.data, "P depth=0 index=0 text/plain charset=- enc=- file=-\n"
		  "T plain: \xc3\xa9\xc3\xa9\n");

	mime_limits_default(&lim);
	lim.max_header_bytes = 100;
	for (int i = 0; i < 20; i++)
		buf_printf(&m, "X-H%d: 0123456789\n", i);
	buf_append(&m, "\nbody\n", 6);
	f = walk(&r, m.data, m.len, &lim);
	CHECK(f & MIME_ERR_TRUNC_HEADER);
	CHECK(r.nheaders < 7);
	CHECK(strstr(r.log.data, "T plain: body\n") != NULL);
	buf_free(&m);
	buf_free(&r.log);
}

TEST(mime_big_part_fast)
{
	struct rec r = { 0 };
	struct buf m = { 0 };
	size_t target = 50 * 1024 * 1024;

	buf_append(&m, "Content-Type: multipart/mixed; boundary=big\n\n--big\n"
		   "Content-Type: text/plain\nContent-Transfer-Encoding: base64\n\n", 103);
	buf_reserve(&m, target + 100);
	while (m.len < target)
		buf_append(&m, "SGVsbG8gd29ybGQsIHRoaXMgaXMgYSBiaWcgbWVzc2FnZSBib2R5IHRleHQuIA==\n", 65);
	buf_append(&m, "--big\n\nsmall\n--big--\n", 21);
	clock_t c0 = clock();
	unsigned f = walk(&r, m.data, m.len, NULL);
	double sec = (double)(clock() - c0) / CLOCKS_PER_SEC;
	CHECK(f & MIME_ERR_TRUNC_PART);
	CHECK(r.text_len <= MIME_DEFAULT_MAX_PART_BYTES + 100);
	CHECK(strstr(r.log.data, "T plain: small\n") != NULL);
	CHECK(sec < 3.0);
	fprintf(stderr, "  50 MB part: %.3f s\n", sec);
	buf_free(&m);
	buf_free(&r.log);
}

TEST(mime_mutations_survive)
{
	struct rec r = { 0 };
	size_t n = strlen(nested_msg);
	char *m = malloc(n);
	unsigned seed = 4242;

	REQUIRE(m != NULL);
	for (int round = 0; round < 3000; round++) {
		memcpy(m, nested_msg, n);
		int edits = 1 + rand_r(&seed) % 8;
		for (int e = 0; e < edits; e++) {
			size_t at = (size_t)rand_r(&seed) % n;
			static const char bytes[] = "-\n\r=?\"';:\0\xff\xc3<&";
			m[at] = bytes[rand_r(&seed) % (sizeof(bytes) - 1)];
		}
		size_t len = (size_t)rand_r(&seed) % (n + 1);
		walk(&r, m, len, NULL);
		if (r.bad_utf8) {
			test_failf(__FILE__, __LINE__, "round %d: invalid UTF-8 or NUL reached the sink", round);
			break;
		}
	}
	free(m);
	buf_free(&r.log);
}

/*
 * A parameter with an empty value ("charset=") used to hand a NULL buffer
 * to the token reader: a crash found by bayesc eval on trec06p.
 */
TEST(mime_empty_parameter_values)
{
	static const char msg[] =
		"Content-Type: text/plain; charset=\n"
		"Content-Transfer-Encoding: \n\n"
		"body text\n";
	static const char multi[] =
		"Content-Type: multipart/mixed; boundary=\"b\"\n\n"
		"--b\nContent-Type: text/html; charset=\"\"\n\n<p>hello</p>\n--b--\n";
	struct rec r = { 0 };

	walk(&r, msg, sizeof(msg) - 1, NULL);
	CHECK(strstr(r.log.data, "T plain: body text") != NULL);
	buf_free(&r.log);
	memset(&r, 0, sizeof(r));
	walk(&r, multi, sizeof(multi) - 1, NULL);
	CHECK(strstr(r.log.data, "hello") != NULL);
	buf_free(&r.log);
}
