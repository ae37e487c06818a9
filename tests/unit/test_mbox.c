/*
 * test_mbox.c - splitting mbox files (trainer/mbox.c, from
 * trainer/libbayesc.a).
 *
 * Each case is split with the input pushed whole, one byte at a time and
 * in chunks of 7 bytes, and must give the same messages every time.
 */
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "mbox.h"
#include "util.h"

#define MAX_MSGS 8

struct split {
	struct buf msg[MAX_MSGS];
	bool truncated[MAX_MSGS];
	size_t n;
	uint64_t skipped, consumed_last;
};

/* take - pull every message that is complete */
static void take(struct mbox_parser *p, struct split *s)
{
	const unsigned char *d;
	size_t len;

	while (mbox_next(p, &d, &len) == 1) {
		if (s->n < MAX_MSGS) {
			buf_append(&s->msg[s->n], d, len);
			s->truncated[s->n] = mbox_truncated(p);
		}
		s->n++;
		s->consumed_last = mbox_consumed(p);
	}
}

/* split - the messages of in[0..len) pushed chunk bytes at a time (0 = whole) */
static void split(const char *in, size_t len, size_t chunk, size_t max, struct split *s)
{
	struct mbox_parser *p = mbox_parser_init(max);

	memset(s, 0, sizeof(*s));
	if (chunk == 0)
		chunk = len ? len : 1;
	for (size_t off = 0; off < len; off += chunk) {
		mbox_push(p, (const unsigned char *)in + off, len - off < chunk ? len - off : chunk);
		take(p, s);
	}
	mbox_finish(p);
	take(p, s);
	s->skipped = mbox_skipped(p);
	mbox_parser_deinit(&p);
	CHECK(p == NULL);
}

static void split_free(struct split *s)
{
	for (size_t i = 0; i < MAX_MSGS; i++)
		buf_free(&s->msg[i]);
}

/* expect - in splits into want[0..nwant) whatever the chunking */
static void expect(const char *in, const char *const *want, size_t nwant)
{
	static const size_t chunks[] = { 0, 1, 7 };

	for (size_t c = 0; c < ARRAY_SIZE(chunks); c++) {
		struct split s;

		split(in, strlen(in), chunks[c], 0, &s);
		if (s.n != nwant)
			test_failf(__FILE__, __LINE__, "chunk %zu: %zu messages, expected %zu", chunks[c], s.n, nwant);
		for (size_t i = 0; i < nwant && i < s.n; i++)
			CHECK_MEM(s.msg[i].data ? s.msg[i].data : "", s.msg[i].len, want[i], strlen(want[i]));
		split_free(&s);
	}
}

TEST(mbox_two_messages)
{
	static const char in[] =
		"From alice@example.org Mon Jan  1 00:00:00 2024\n"
		"Subject: one\n\nbody one\n\n"
		"From bob@example.org Mon Jan  1 00:00:01 2024\n"
		"Subject: two\n\nbody two\n";
	static const char *const want[] = { "Subject: one\n\nbody one\n", "Subject: two\n\nbody two\n" };

	expect(in, want, 2);
}

TEST(mbox_from_inside_body_is_text)
{
	/* a "From " line not after a blank line is body text, not a separator */
	static const char in[] =
		"From a Mon Jan  1 00:00:00 2024\n"
		"Subject: x\n\nline\nFrom here on it is body\n\n"
		"From b Mon Jan  1 00:00:00 2024\n"
		"Subject: y\n\ny\n";
	static const char *const want[] = { "Subject: x\n\nline\nFrom here on it is body\n", "Subject: y\n\ny\n" };

	expect(in, want, 2);
}

TEST(mbox_mboxrd_unquoting)
{
	static const char in[] =
		"From a Mon Jan  1 00:00:00 2024\n"
		"Subject: q\n\n>From the start\n>>From quoted twice\n> From not quoting\n>Fromage\n";
	static const char *const want[] = {
		"Subject: q\n\nFrom the start\n>From quoted twice\n> From not quoting\n>Fromage\n",
	};

	expect(in, want, 1);
}

TEST(mbox_crlf)
{
	static const char in[] =
		"From a Mon Jan  1 00:00:00 2024\r\n"
		"Subject: one\r\n\r\nbody\r\n\r\n"
		"From b Mon Jan  1 00:00:00 2024\r\n"
		"Subject: two\r\n\r\n>From x\r\n";
	static const char *const want[] = { "Subject: one\r\n\r\nbody\r\n", "Subject: two\r\n\r\nFrom x\r\n" };

	expect(in, want, 2);
}

TEST(mbox_no_final_newline)
{
	static const char in[] =
		"From a Mon Jan  1 00:00:00 2024\n"
		"Subject: one\n\nfirst\n\n"
		"From b Mon Jan  1 00:00:00 2024\n"
		"Subject: two\n\nno newline at the end";
	static const char *const want[] = { "Subject: one\n\nfirst\n", "Subject: two\n\nno newline at the end" };

	expect(in, want, 2);
}

TEST(mbox_empty_and_junk)
{
	struct split s;
	static const char junk[] = "Subject: not an mbox\n\nbody\n";
	static const char empty_msg[] =
		"From a Mon Jan  1 00:00:00 2024\n\n"
		"From b Mon Jan  1 00:00:00 2024\n"
		"Subject: b\n\nb\n";
	static const char *const want[] = { "", "Subject: b\n\nb\n" };

	split("", 0, 0, 0, &s);
	CHECK(s.n == 0);
	split_free(&s);
	/* no separator at the start: nothing is a message, the bytes are counted */
	split(junk, strlen(junk), 0, 0, &s);
	CHECK(s.n == 0);
	CHECK(s.skipped == strlen(junk));
	split_free(&s);
	expect(empty_msg, want, 2);
}

TEST(mbox_huge_message)
{
	/* a 3 MB message with a 200 KB line, cut at 1 MB; the next one intact */
	struct buf in = { 0 };
	struct split s;
	size_t i;

	buf_printf(&in, "From a Mon Jan  1 00:00:00 2024\nSubject: big\n\n");
	for (i = 0; i < 200 * 1024; i++)
		buf_putc(&in, 'x');
	buf_putc(&in, '\n');
	while (in.len < 3 * 1024 * 1024)
		buf_printf(&in, "a line of text in a very large message\n");
	buf_printf(&in, "\nFrom b Mon Jan  1 00:00:00 2024\nSubject: small\n\nsmall\n");

	split(in.data, in.len, 65536, 1024 * 1024, &s);
	REQUIRE(s.n == 2);
	CHECK(s.msg[0].len == 1024 * 1024);
	CHECK(s.truncated[0]);
	CHECK(strncmp(s.msg[0].data, "Subject: big\n\nxxx", 17) == 0);
	CHECK_MEM(s.msg[1].data, s.msg[1].len, "Subject: small\n\nsmall\n", 22);
	CHECK(!s.truncated[1]);
	CHECK(s.consumed_last == in.len);
	split_free(&s);

	/* uncut, and pushed whole: the same bytes come out */
	split(in.data, in.len, 0, 0, &s);
	REQUIRE(s.n == 2);
	CHECK(!s.truncated[0]);
	size_t head = strlen("From a Mon Jan  1 00:00:00 2024\n");
	size_t tail = strlen("\nFrom b Mon Jan  1 00:00:00 2024\nSubject: small\n\nsmall\n");
	CHECK_MEM(s.msg[0].data, s.msg[0].len > 64 ? 64 : s.msg[0].len, in.data + head, 64);
	CHECK(s.msg[0].len == in.len - head - tail);
	split_free(&s);
	buf_free(&in);
}

TEST(mbox_long_from_line_is_text)
{
	/*
	 * A "From " line past MBOX_LINE_MAX after a blank line is body text
	 * (mbox.h): pushed whole or in 7-byte chunks, which hand it to the
	 * parser whole or in pieces, the file stays one message.
	 */
	struct buf in = { 0 };
	static const size_t chunks[] = { 0, 7 };

	buf_printf(&in, "From a Mon Jan  1 00:00:00 2024\nSubject: long\n\nFrom ");
	for (size_t i = 0; i < MBOX_LINE_MAX; i++)
		buf_putc(&in, 'x');
	buf_printf(&in, "\nbody\n");
	size_t head = strlen("From a Mon Jan  1 00:00:00 2024\n");
	for (size_t c = 0; c < ARRAY_SIZE(chunks); c++) {
		struct split s;

		split(in.data, in.len, chunks[c], 0, &s);
		REQUIRE(s.n == 1);
		CHECK_MEM(s.msg[0].data, s.msg[0].len, in.data + head, in.len - head);
		split_free(&s);
	}
	buf_free(&in);
}
