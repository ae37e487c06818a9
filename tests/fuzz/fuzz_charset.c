/*
 * fuzz_charset.c - libFuzzer target: charset_to_utf8() and the UTF-8
 * helpers of charset.h.
 *
 * The input's first line (up to 40 bytes) is the declared charset name,
 * the rest the text. Whatever is declared, the output must be valid UTF-8;
 * sanitizing any bytes must give valid UTF-8; cutting valid UTF-8 must
 * land on a character boundary.
 */
#include <string.h>

#include "message/charset.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char name[41];
	size_t nl = 0;
	struct buf out;
	unsigned flags = 0;

	while (nl < size && nl < sizeof(name) - 1 && data[nl] != '\n')
		nl++;
	memcpy(name, data, nl);
	name[nl] = '\0';
	const char *text = (const char *)data + nl + (nl < size);
	size_t n = size - nl - (nl < size);

	buf_init(&out);
	charset_to_utf8(nl ? name : NULL, text, n, &out, &flags);
	fuzz_check_utf8(out.data ? out.data : "", out.len, "charset_to_utf8");

	buf_reset(&out);
	charset_utf8_sanitize(text, n, &out);
	fuzz_check_utf8(out.data ? out.data : "", out.len, "charset_utf8_sanitize");

	/* Cut the valid text at every few bytes: each prefix stays valid. */
	for (size_t at = 0; at < out.len; at += 1 + at / 4) {
		size_t cut = charset_utf8_cut(out.data, at);
		if (cut > at || charset_utf8_valid(out.data, cut) != cut)
			fuzz_fail("cut inside a character", "charset_utf8_cut");
		size_t trim = charset_utf8_trim_tail(out.data, at);
		if (trim > at || charset_utf8_valid(out.data, trim) != trim)
			fuzz_fail("trimmed text is not valid", "charset_utf8_trim_tail");
	}
	buf_free(&out);
	charset_thread_done();
	return 0;
}
