/*
 * fuzz_mbox.c - libFuzzer target: the mbox splitter of bayesc
 * (trainer/mbox.c).
 *
 * Input: byte 0 seeds the split points, byte 1 picks the message size cut
 * (0: the default, else 16 bytes per unit, so the cut is reached often),
 * the rest is the mbox. In the mbox every byte 0x01 stands for 8192 'x':
 * libFuzzer's inputs stay below MBOX_LINE_MAX (64 KiB), and the lines
 * longer than that, which the parser passes through in pieces, must be
 * reachable too.
 *
 * The mbox is pushed whole and again in random pieces (mostly tiny, some
 * long enough to cut a long line anywhere), pulling messages after every
 * push as bayesc does. mbox.h promises the same messages whatever the
 * split, so both runs must hand out the same sequence (bytes, truncation,
 * consumed offsets) and skip the same leading bytes; no message may be
 * longer than the cut.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "mbox.h"
#include "util.h"

#define FM_STRETCH	8192		/* 'x' bytes that one 0x01 stands for */
#define FM_MAX_INPUT	(1 << 20)	/* bound on the expanded mbox */

struct fm_msg {
	unsigned char *data;
	size_t len;
	bool truncated;
	uint64_t consumed;
};

struct fm_run {
	struct fm_msg *msg;
	size_t n, cap;
	uint64_t skipped;
};

/* fm_next - a small deterministic generator for the split points. */
static unsigned fm_next(unsigned *s)
{
	*s = *s * 1103515245u + 12345u;
	return (*s >> 16) & 0x7fff;
}

/* fm_piece - the length of the next piece: mostly tiny, some larger, a few past a line's limit. */
static size_t fm_piece(unsigned *s, size_t left)
{
	size_t n;

	switch (fm_next(s) % 8) {
	case 0:
		n = fm_next(s) % 300;
		break;
	case 1:
		n = ((size_t)fm_next(s) << 15 | fm_next(s)) % (2 * MBOX_LINE_MAX);
		break;
	default:
		n = fm_next(s) % 4;
		break;
	}
	return n > left ? left : n;
}

/* fm_take - every message p has complete, appended to r. */
static void fm_take(struct mbox_parser *p, struct fm_run *r, size_t max, size_t total)
{
	const unsigned char *d;
	size_t len;

	while (mbox_next(p, &d, &len) == 1) {
		if (len > max)
			fuzz_fail("message longer than the size cut", "mbox_next");
		uint64_t consumed = mbox_consumed(p);
		if (consumed > total || (r->n > 0 && consumed < r->msg[r->n - 1].consumed))
			fuzz_fail("consumed offset out of order or past the input", "mbox_consumed");
		if (r->n == r->cap) {
			r->cap = r->cap ? 2 * r->cap : 16;
			r->msg = xrealloc(r->msg, r->cap * sizeof(*r->msg));
		}
		struct fm_msg *m = &r->msg[r->n++];
		m->data = xmalloc(len ? len : 1);
		if (len)
			memcpy(m->data, d, len);
		m->len = len;
		m->truncated = mbox_truncated(p);
		m->consumed = consumed;
	}
}

/* fm_split - in[0..n) pushed in pieces (seed 0: whole) into r. */
static void fm_split(const unsigned char *in, size_t n, size_t max, unsigned seed, bool whole,
		     struct fm_run *r)
{
	struct mbox_parser *p = mbox_parser_init(max);

	memset(r, 0, sizeof(*r));
	for (size_t i = 0; i < n;) {
		size_t k = whole ? n : fm_piece(&seed, n - i);
		mbox_push(p, in + i, k);
		i += k;
		fm_take(p, r, max, n);
	}
	mbox_finish(p);
	fm_take(p, r, max, n);
	r->skipped = mbox_skipped(p);
	if (r->skipped > n)
		fuzz_fail("more bytes skipped than pushed", "mbox_skipped");
	mbox_parser_deinit(&p);
	if (p != NULL)
		fuzz_fail("deinit did not clear the pointer", "mbox_parser_deinit");
}

/* fm_free - what fm_split collected. */
static void fm_free(struct fm_run *r)
{
	for (size_t i = 0; i < r->n; i++)
		free(r->msg[i].data);
	free(r->msg);
}

/* fm_expand - in[0..n) with every 0x01 stretched; the length in *len_r. */
static unsigned char *fm_expand(const uint8_t *in, size_t n, size_t *len_r)
{
	size_t len = 0;

	for (size_t i = 0; i < n; i++)
		len += in[i] == 1 ? FM_STRETCH : 1;
	if (len > FM_MAX_INPUT)
		len = FM_MAX_INPUT;
	unsigned char *out = xmalloc(len ? len : 1);
	size_t w = 0;
	for (size_t i = 0; i < n && w < len; i++) {
		if (in[i] == 1) {
			size_t k = len - w < FM_STRETCH ? len - w : FM_STRETCH;
			memset(out + w, 'x', k);
			w += k;
		} else {
			out[w++] = in[i];
		}
	}
	*len_r = len;
	return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fm_run whole, pieces;
	size_t n;

	if (size < 2)
		return 0;
	unsigned seed = data[0];
	size_t max = data[1] ? (size_t)data[1] * 16 : MBOX_DEFAULT_MAX_MESSAGE;
	unsigned char *in = fm_expand(data + 2, size - 2, &n);

	fm_split(in, n, max, 0, true, &whole);
	fm_split(in, n, max, seed, false, &pieces);
	if (whole.n != pieces.n)
		fuzz_fail("split input gives another number of messages", "mbox_next");
	if (whole.skipped != pieces.skipped)
		fuzz_fail("split input skips other bytes", "mbox_skipped");
	for (size_t i = 0; i < whole.n; i++) {
		const struct fm_msg *a = &whole.msg[i], *b = &pieces.msg[i];
		if (a->len != b->len || (a->len && memcmp(a->data, b->data, a->len) != 0))
			fuzz_fail("split input gives another message", "mbox_next");
		if (a->truncated != b->truncated)
			fuzz_fail("split input truncates differently", "mbox_truncated");
		if (a->consumed != b->consumed)
			fuzz_fail("split input consumes differently", "mbox_consumed");
	}
	fm_free(&whole);
	fm_free(&pieces);
	free(in);
	return 0;
}
