/*
 * test_decode.c - base64 / quoted-printable (fed split at every byte),
 * RFC 2047 encoded words and RFC 2231 parameters.
 */
#include "harness.h"

#include "message/decode.h"

#include <stdlib.h>

/* b64_all - decode in one go. */
static void b64_all(const char *in, size_t n, struct buf *out, size_t *errors)
{
	struct b64_state st;

	b64_init(&st);
	b64_decode(&st, in, n, out);
	b64_finish(&st, out);
	if (errors)
		*errors = st.errors;
}

/* qp_all - decode in one go. */
static void qp_all(const char *in, size_t n, struct buf *out, size_t *errors)
{
	struct qp_state st;

	qp_init(&st);
	qp_decode(&st, in, n, out);
	qp_finish(&st, out);
	if (errors)
		*errors = st.errors;
}

TEST(decode_b64_basic)
{
	struct buf out = { 0 };
	size_t err;

	b64_all("SGVsbG8sIFdvcmxkIQ==", 20, &out, &err);
	CHECK_STR(out.data, "Hello, World!");
	CHECK(err == 0);
	buf_reset(&out);
	b64_all("SGk", 3, &out, &err);	/* missing padding */
	CHECK_STR(out.data, "Hi");
	buf_reset(&out);
	b64_all("SGk=SGk=", 8, &out, &err);	/* concatenated padded blocks */
	CHECK_STR(out.data, "HiHi");
	buf_reset(&out);
	b64_all("SG!!Vs*bG8=\r\n", 13, &out, &err);	/* garbage skipped, counted */
	CHECK_STR(out.data, "Hello");
	CHECK(err == 3);
	buf_reset(&out);
	b64_all("", 0, &out, &err);
	CHECK(out.len == 0);
	buf_free(&out);
}

/* check_splits - feed in split at every position (two pieces), at every
 * pair of positions (three pieces), and one byte at a time; each must give
 * what decoding in one go gives. */
static void check_splits(bool b64, const char *in, const char *want)
{
	size_t want_len = strlen(want);
	size_t n = strlen(in);
	struct buf whole = { 0 }, out = { 0 };

	if (b64)
		b64_all(in, n, &whole, NULL);
	else
		qp_all(in, n, &whole, NULL);
	CHECK_MEM(whole.data, whole.len, want, want_len);
	for (size_t i = 0; i <= n; i++) {
		for (size_t j = i; j <= n; j++) {
			struct b64_state bs;
			struct qp_state qs;

			buf_reset(&out);
			b64_init(&bs);
			qp_init(&qs);
			size_t cut[4] = { 0, i, j, n };
			for (int k = 0; k < 3; k++) {
				if (b64)
					b64_decode(&bs, in + cut[k], cut[k + 1] - cut[k], &out);
				else
					qp_decode(&qs, in + cut[k], cut[k + 1] - cut[k], &out);
			}
			if (b64)
				b64_finish(&bs, &out);
			else
				qp_finish(&qs, &out);
			if (out.len != whole.len || memcmp(out.data, whole.data, out.len) != 0) {
				test_failf(__FILE__, __LINE__, "split at %zu,%zu differs", i, j);
				goto done;
			}
		}
	}
	/* One byte at a time. */
	{
		struct b64_state bs;
		struct qp_state qs;

		buf_reset(&out);
		b64_init(&bs);
		qp_init(&qs);
		for (size_t i = 0; i < n; i++) {
			if (b64)
				b64_decode(&bs, in + i, 1, &out);
			else
				qp_decode(&qs, in + i, 1, &out);
		}
		if (b64)
			b64_finish(&bs, &out);
		else
			qp_finish(&qs, &out);
		CHECK_MEM(out.data, out.len, whole.data, whole.len);
	}
done:
	buf_free(&whole);
	buf_free(&out);
}

TEST(decode_b64_split_any_byte)
{
	check_splits(true, "UsOpdW5pb24gw6Ag\r\nMTBoLCBjYWbDqSBv\nZmZl cnQuCg==\r\n",
		     "R\xc3\xa9union \xc3\xa0 10h, caf\xc3\xa9 offert.\n");
	check_splits(true, "SGk=SG!k", "HiHi");
}

TEST(decode_qp_basic)
{
	struct buf out = { 0 };
	size_t err;

	qp_all("caf=C3=A9 =\r\nsoft=\nbreak", 24, &out, &err);
	CHECK_STR(out.data, "caf\xc3\xa9 softbreak");
	CHECK(err == 0);
	buf_reset(&out);
	qp_all("=c3=a9", 6, &out, &err);	/* lower-case hex */
	CHECK_STR(out.data, "\xc3\xa9");
	buf_reset(&out);
	qp_all("abc=  \t\r\ndef", 12, &out, &err);	/* blanks before the soft break */
	CHECK_STR(out.data, "abcdef");
	buf_reset(&out);
	qp_all("a=ZZb=4 x==41=", 14, &out, &err);	/* broken escapes kept */
	CHECK_STR(out.data, "a=ZZb=4 x=A=");
	CHECK(err == 4);
	buf_reset(&out);
	qp_all("line1\r\nline2\n", 13, &out, &err);	/* hard breaks kept */
	CHECK_STR(out.data, "line1\r\nline2\n");
	buf_free(&out);
}

TEST(decode_qp_split_any_byte)
{
	check_splits(false, "caf=C3=A9 =\r\nsoft=\nbr=  \r\neak =ZZ=4 ==41=\r=",
		     "caf\xc3\xa9 softbreak =ZZ=4 =A=");
	check_splits(false, "=\r\n=\r\n=3D=3d\r\n", "==\r\n");
}

/* d2047 - decode a header value, return a static copy. */
static const char *d2047(const char *in)
{
	static struct buf out;

	buf_reset(&out);
	rfc2047_decode(in, strlen(in), &out, NULL);
	return out.data ? out.data : "";
}

TEST(decode_2047_b_and_q)
{
	CHECK_STR(d2047("=?UTF-8?B?w6lsw6h2ZQ==?="), "\xc3\xa9l\xc3\xa8ve");
	CHECK_STR(d2047("=?iso-8859-1?Q?caf=E9_cr=E8me?="), "caf\xc3\xa9 cr\xc3\xa8me");
	CHECK_STR(d2047("=?utf-8?b?w6lsw6h2ZQ?="), "\xc3\xa9l\xc3\xa8ve");	/* lower b, no pad */
	CHECK_STR(d2047("=?koi8-r?B?8NLJ18XU?="), "Привет");
	CHECK_STR(d2047("Re: =?utf-8*en?Q?hi?= there"), "Re: hi there");	/* 2231 language */
	CHECK_STR(d2047("plain text"), "plain text");
}

TEST(decode_2047_adjacent)
{
	CHECK_STR(d2047("=?utf-8?q?a?= =?utf-8?q?b?="), "ab");
	CHECK_STR(d2047("=?utf-8?q?a?=\r\n\t=?iso-8859-1?q?=E9?="), "a\xc3\xa9");
	CHECK_STR(d2047("x =?utf-8?q?a?= y =?utf-8?q?b?="), "x a y b");
	/* A UTF-8 character split across two words survives. */
	CHECK_STR(d2047("=?utf-8?B?ww==?= =?utf-8?B?qQ==?="), "\xc3\xa9");
}

TEST(decode_2047_bad_words)
{
	CHECK_STR(d2047("=?utf-8?X?abc?="), "=?utf-8?X?abc?=");
	CHECK_STR(d2047("=?utf-8?B?abc"), "=?utf-8?B?abc");
	CHECK_STR(d2047("a =? b ?= c"), "a =? b ?= c");
	CHECK_STR(d2047("=??Q?x?="), "=??Q?x?=");
	CHECK_STR(d2047("=?utf-8?Q?a b?="), "=?utf-8?Q?a b?=");
	/* Unknown charset: ASCII bytes kept. */
	CHECK_STR(d2047("=?x-unknown?Q?abc?="), "abc");
	/* Unknown charset with 8-bit bytes: still valid UTF-8 out. */
	const char *r = d2047("=?x-unknown?Q?caf=E9?=");
	CHECK(strncmp(r, "caf", 3) == 0);
	/* Many unclosed words: linear, left as is. */
	struct buf in = { 0 }, out = { 0 };
	for (int i = 0; i < 20000; i++)
		buf_append(&in, "=?utf-8?Q?x ", 12);
	rfc2047_decode(in.data, in.len, &out, NULL);
	CHECK_MEM(out.data, out.len, in.data, in.len);
	buf_free(&in);
	buf_free(&out);
}

/* param - mime_param_get into a static buffer; NULL if not found. */
static const char *param(const char *v, const char *name)
{
	static struct buf out;

	buf_reset(&out);
	if (!mime_param_get(v, name, &out))
		return NULL;
	return out.data ? out.data : "";
}

TEST(decode_2231_plain_values)
{
	CHECK_STR(param("text/plain; charset=UTF-8", "charset"), "UTF-8");
	CHECK_STR(param("text/plain; CHARSET = \"utf-8\" ; format=flowed", "charset"), "utf-8");
	CHECK_STR(param("attachment; filename=\"a \\\"b\\\".txt\"", "filename"), "a \"b\".txt");
	CHECK_STR(param("multipart/mixed; boundary=\"--=_x;y\"", "boundary"), "--=_x;y");
	CHECK_STR(param("attachment; xfilename=a; filename=b", "filename"), "b");
	CHECK(param("attachment; filenamex=a", "filename") == NULL);
	CHECK(param("text/plain", "charset") == NULL);
	CHECK_STR(param("text/plain; charset=", "charset"), "");
	CHECK_STR(param("attachment; filename=\"=?utf-8?B?w6kudHh0?=\"", "filename"), "\xc3\xa9.txt");
	CHECK_STR(param("attachment; filename=\"unclosed", "filename"), "unclosed");
}

TEST(decode_2231_extended)
{
	CHECK_STR(param("attachment; filename*=iso-8859-1'fr'caf%E9.txt", "filename"),
		  "caf\xc3\xa9.txt");
	CHECK_STR(param("attachment; filename*=UTF-8''%E2%82%AC%20rate.pdf", "filename"),
		  "\xe2\x82\xac rate.pdf");
	/* Continuations, given out of order, mixing encoded and plain. */
	CHECK_STR(param("attachment; filename*1*=%E2%82%AC.txt; filename*0*=utf-8''price-; "
			"filename*2=\"-final\"", "filename"), "price-\xe2\x82\xac.txt-final");
	CHECK_STR(param("attachment; filename*0=\"long \"; filename*1=\"name.pdf\"", "filename"),
		  "long name.pdf");
	/* Extended wins over plain. */
	CHECK_STR(param("attachment; filename=\"plain.txt\"; filename*=utf-8''ext.txt", "filename"),
		  "ext.txt");
	/* koi8-r in 2231. */
	CHECK_STR(param("attachment; filename*=koi8-r''%F0%D2%C9%D7%C5%D4", "filename"), "Привет");
}

/*
 * Empty input from an empty struct buf arrives as (NULL, 0): no pointer
 * arithmetic on NULL (UBSan: "applying zero offset to null pointer", found
 * by fuzz_controller), and nothing comes out.
 */
TEST(decode_empty_null_input)
{
	struct buf out = { 0 };

	rfc2047_decode(NULL, 0, &out, NULL);
	CHECK(out.len == 0);
	CHECK(mime_param_get("attachment; filename=", "filename", &out) || out.len == 0);
	CHECK(out.len == 0);
	buf_free(&out);
}
