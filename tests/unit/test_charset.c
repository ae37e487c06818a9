/*
 * test_charset.c - declared, undeclared and lying charsets to UTF-8; the
 * UTF-8 validator; output is never invalid UTF-8.
 */
#include "harness.h"

#include "message/charset.h"

#include <stdlib.h>
#include <time.h>

/* conv - convert into a static buffer, flags in *f. */
static const char *conv(const char *cs, const char *in, size_t n, unsigned *f)
{
	static struct buf out;

	buf_reset(&out);
	*f = 0;
	charset_to_utf8(cs, in, n, &out, f);
	return out.data ? out.data : "";
}

TEST(charset_utf8_fast_path)
{
	unsigned f;

	CHECK_STR(conv(NULL, "plain ascii", 11, &f), "plain ascii");
	CHECK(f == 0);
	CHECK_STR(conv("utf-8", "caf\xc3\xa9", 5, &f), "caf\xc3\xa9");
	CHECK(f == 0);
	CHECK_STR(conv("us-ascii", "abc", 3, &f), "abc");
	CHECK(f == 0);
	/* Declared latin1 but the bytes are UTF-8: flagged, kept. */
	CHECK_STR(conv("iso-8859-1", "caf\xc3\xa9", 5, &f), "caf\xc3\xa9");
	CHECK(f & CHARSET_F_MISMATCH);
	CHECK_STR(conv(NULL, "", 0, &f), "");
}

TEST(charset_declared)
{
	unsigned f;

	CHECK_STR(conv("iso-8859-1", "caf\xe9", 4, &f), "café");
	CHECK(f == 0);
	CHECK_STR(conv("ISO-8859-1", "\x80 5", 3, &f), "€ 5");	/* read as windows-1252 */
	CHECK_STR(conv("windows-1251", "\xcf\xf0\xe8\xe2\xe5\xf2", 6, &f), "Привет");
	CHECK(f == 0);
	CHECK_STR(conv("koi8-r", "\xf0\xd2\xc9\xd7\xc5\xd4", 6, &f), "Привет");
	CHECK_STR(conv("shift_jis", "\x82\xb1\x82\xf1\x82\xc9\x82\xbf\x82\xcd", 10, &f),
		  "こんにちは");
	CHECK(f == 0);
	CHECK_STR(conv("gb2312", "\xd6\xd0\xce\xc4", 4, &f), "中文");
	CHECK(f == 0);
	CHECK_STR(conv("\"UTF-8\"", "x", 1, &f), "x");
	/* ISO-2022-JP is 7-bit but not ASCII: no fast path. */
	CHECK_STR(conv("iso-2022-jp", "\x1b$B$3$s$K$A$O\x1b(B", 16, &f), "こんにちは");
	/* Cut inside a Shift_JIS character: the piece is dropped. */
	CHECK_STR(conv("shift_jis", "\x82\xb1\x82", 3, &f), "こ");
}

TEST(charset_lying_declaration)
{
	unsigned f;
	const char *fr = "Caf\xe9 cr\xe8me: la r\xe9union de l'\xe9t\xe9 aura lieu \xe0 "
			 "l'h\xf4tel, apr\xe8s le d\xe9jeuner. Pr\xe9voyez des v\xeatements "
			 "l\xe9gers et votre r\xe9servation.";

	/* utf-8 declared, latin1 bytes. */
	const char *r = conv("utf-8", fr, strlen(fr), &f);
	CHECK(strncmp(r, "Café crème: la réunion de l'été", strlen("Café crème: la réunion de l'été")) == 0);
	CHECK(f & CHARSET_F_INVALID);
	CHECK(f & CHARSET_F_DETECTED);
	/* us-ascii declared, 8-bit bytes. */
	r = conv("us-ascii", fr, strlen(fr), &f);
	CHECK(strncmp(r, "Café crème", strlen("Café crème")) == 0);
	CHECK(f & CHARSET_F_INVALID);
	/* Undeclared. */
	r = conv(NULL, fr, strlen(fr), &f);
	CHECK(strncmp(r, "Café crème", strlen("Café crème")) == 0);
	CHECK(f & CHARSET_F_DETECTED);
	/* Unknown name. */
	r = conv("x-no-such-charset", fr, strlen(fr), &f);
	CHECK(strncmp(r, "Café crème", strlen("Café crème")) == 0);
	CHECK(f & CHARSET_F_UNKNOWN);
	/* Undeclared Russian in windows-1251: detection gets it. */
	const char *ru = "\xcf\xf0\xe8\xe2\xe5\xf2, \xea\xe0\xea \xe4\xe5\xeb\xe0? \xdd\xf2\xee "
			 "\xef\xf0\xee\xe2\xe5\xf0\xea\xe0 \xf0\xf3\xf1\xf1\xea\xee\xe3\xee "
			 "\xf2\xe5\xea\xf1\xf2\xe0 \xe4\xeb\xff \xf4\xe8\xeb\xfc\xf2\xf0\xe0.";
	r = conv(NULL, ru, strlen(ru), &f);
	CHECK(strncmp(r, "Привет, как дела?", strlen("Привет, как дела?")) == 0);
}

/* A sample seen before gets the remembered answer: the same as ICU's. */
TEST(charset_detect_cache)
{
	unsigned f1, f2, f3;
	const char *ru = "\xcf\xf0\xe8\xe2\xe5\xf2, \xea\xe0\xea \xe4\xe5\xeb\xe0? \xdd\xf2\xee "
			 "\xef\xf0\xee\xe2\xe5\xf0\xea\xe0 \xf0\xf3\xf1\xf1\xea\xee\xe3\xee "
			 "\xf2\xe5\xea\xf1\xf2\xe0 \xe4\xeb\xff \xf4\xe8\xeb\xfc\xf2\xf0\xe0.";
	char *first, *again;

	charset_thread_done();
	first = xstrdup(conv(NULL, ru, strlen(ru), &f1));
	again = xstrdup(conv(NULL, ru, strlen(ru), &f2));
	CHECK_STR(again, first);
	CHECK(f1 == f2);
	/* The same bytes one shorter are another sample. */
	free(again);
	again = xstrdup(conv(NULL, ru, strlen(ru) - 1, &f2));
	CHECK(strncmp(again, first, strlen(again)) == 0);
	/* Many other samples push it out; it is asked again and answers alike. */
	for (int i = 0; i < 300; i++) {
		char t[64];
		int n = snprintf(t, sizeof(t), "n\xe9 %d caf\xe9", i);
		conv(NULL, t, (size_t)n, &f3);
	}
	free(again);
	again = xstrdup(conv(NULL, ru, strlen(ru), &f2));
	CHECK_STR(again, first);
	CHECK(f1 == f2);
	charset_thread_done();
	free(first);
	free(again);
}

TEST(charset_utf8_validator)
{
	CHECK(charset_utf8_valid("abc", 3) == 3);
	CHECK(charset_utf8_valid("a\xc0\x80", 3) == 1);	/* overlong */
	CHECK(charset_utf8_valid("a\xed\xa0\x80", 4) == 1);	/* surrogate */
	CHECK(charset_utf8_valid("a\xf4\x90\x80\x80", 5) == 1);	/* > U+10FFFF */
	CHECK(charset_utf8_valid("\xf0\x9f\x98\x80", 4) == 4);
	CHECK(charset_utf8_valid("0123456789abcdef0123456789abcdef\xff", 33) == 32);
	CHECK(charset_utf8_trim_tail("ab\xe2\x82", 4) == 2);
	CHECK(charset_utf8_trim_tail("ab\xe2\x82\xac", 5) == 5);
	CHECK(charset_utf8_trim_tail("ab\xff", 3) == 3);
	CHECK(charset_utf8_cut("a\xe2\x82\xac", 2) == 1);
	CHECK(charset_utf8_cut("a\xe2\x82\xac", 1) == 1);

	struct buf out = { 0 };
	CHECK(charset_utf8_sanitize("a\xff" "b\xe2\x82", 5, &out) == 2);
	CHECK_STR(out.data, "a\xef\xbf\xbd" "b\xef\xbf\xbd");
	buf_free(&out);
}

TEST(charset_never_invalid_output)
{
	static const char *const names[] = {
		NULL, "utf-8", "us-ascii", "iso-8859-1", "windows-1251", "shift_jis",
		"gb2312", "big5", "euc-kr", "iso-2022-jp", "utf-16", "utf-7", "x-bogus",
	};
	struct buf out = { 0 };
	char in[300];
	unsigned seed = 12345;

	for (int round = 0; round < 400; round++) {
		size_t n = (size_t)(rand_r(&seed) % sizeof(in));
		for (size_t i = 0; i < n; i++)
			in[i] = (char)rand_r(&seed);
		for (size_t k = 0; k < ARRAY_SIZE(names); k++) {
			unsigned f = 0;

			buf_reset(&out);
			charset_to_utf8(names[k], in, n, &out, &f);
			if (charset_utf8_valid(out.data ? out.data : "", out.len) != out.len) {
				test_failf(__FILE__, __LINE__, "invalid UTF-8 from %s", names[k] ? names[k] : "NULL");
				round = 400;
				break;
			}
		}
	}
	buf_free(&out);
}

TEST(charset_fast_path_speed)
{
	size_t n = 64 * 1024 * 1024;
	char *s = malloc(n);
	struct buf out = { 0 };

	REQUIRE(s != NULL);
	for (size_t i = 0; i < n; i++)
		s[i] = (char)("The quick brown fox jumps over the lazy dog. "[i % 45]);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	unsigned f = 0;
	charset_to_utf8(NULL, s, n, &out, &f);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double sec = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	fprintf(stderr, "  charset fast path: %.0f MB/s\n", (double)n / 1e6 / sec);
	CHECK(out.len == n && f == 0);
	CHECK(sec < 5.0);	/* generous: sanitizer builds run this too */
	buf_free(&out);
	free(s);
}
