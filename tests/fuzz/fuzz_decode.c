/*
 * fuzz_decode.c - libFuzzer target: the decoders of decode.h.
 *
 * The first byte of the input seeds the split points. The rest is decoded
 * as base64 and as quoted-printable in one piece and again in random
 * pieces: decode.h promises the same output whatever the split. It is
 * also decoded as an RFC 2047 header value and searched for parameters
 * with mime_param_get(); both must produce valid UTF-8.
 */
#include <stdlib.h>
#include <string.h>

#include "message/decode.h"
#include "fuzz.h"

/* fd_next - a small deterministic generator for the split points. */
static unsigned fd_next(unsigned *s)
{
	*s = *s * 1103515245u + 12345u;
	return (*s >> 16) & 0x7fff;
}

/* fd_pieces - the length of the next piece: mostly tiny, some larger. */
static size_t fd_piece(unsigned *s, size_t left)
{
	size_t n = fd_next(s) % 8 == 0 ? fd_next(s) % 300 : fd_next(s) % 4;
	return n > left ? left : n;
}

/* fd_b64 - base64 whole and split must agree. */
static void fd_b64(const char *in, size_t n, unsigned seed)
{
	struct b64_state st;
	struct buf whole, split;

	buf_init(&whole);
	buf_init(&split);
	b64_init(&st);
	b64_decode(&st, in, n, &whole);
	b64_finish(&st, &whole);
	b64_init(&st);
	for (size_t i = 0; i < n;) {
		size_t k = fd_piece(&seed, n - i);
		b64_decode(&st, in + i, k, &split);
		i += k;
	}
	b64_finish(&st, &split);
	if (whole.len != split.len || (whole.len && memcmp(whole.data, split.data, whole.len)))
		fuzz_fail("split input decodes differently", "b64_decode");
	buf_free(&whole);
	buf_free(&split);
}

/* fd_qp - quoted-printable whole and split must agree. */
static void fd_qp(const char *in, size_t n, unsigned seed)
{
	struct qp_state st;
	struct buf whole, split;

	buf_init(&whole);
	buf_init(&split);
	qp_init(&st);
	qp_decode(&st, in, n, &whole);
	qp_finish(&st, &whole);
	qp_init(&st);
	for (size_t i = 0; i < n;) {
		size_t k = fd_piece(&seed, n - i);
		qp_decode(&st, in + i, k, &split);
		i += k;
	}
	qp_finish(&st, &split);
	if (whole.len != split.len || (whole.len && memcmp(whole.data, split.data, whole.len)))
		fuzz_fail("split input decodes differently", "qp_decode");
	if (whole.len > n)
		fuzz_fail("output longer than input", "qp_decode");
	buf_free(&whole);
	buf_free(&split);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const params[] = { "charset", "filename", "name", "boundary" };
	struct buf out;
	unsigned seed, errors = 0;

	if (size < 1)
		return 0;
	seed = data[0];
	const char *in = (const char *)data + 1;
	size_t n = size - 1;

	fd_b64(in, n, seed);
	fd_qp(in, n, seed);

	/* Header decoders work on a NUL-terminated value, as the MIME walk passes them. */
	char *value = xstrndup(in, n);
	size_t vlen = strlen(value);

	buf_init(&out);
	rfc2047_decode(value, vlen, &out, &errors);
	fuzz_check_utf8(out.data ? out.data : "", out.len, "rfc2047_decode");
	for (size_t i = 0; i < sizeof(params) / sizeof(params[0]); i++) {
		buf_reset(&out);
		if (mime_param_get(value, params[i], &out))
			fuzz_check_utf8(out.data ? out.data : "", out.len, "mime_param_get");
		else if (out.len != 0)
			fuzz_fail("output written for a missing parameter", "mime_param_get");
	}
	buf_free(&out);
	free(value);
	return 0;
}
