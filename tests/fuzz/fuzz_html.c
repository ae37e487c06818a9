/*
 * fuzz_html.c - libFuzzer target: html_reduce() on the input.
 *
 * html.h promises valid UTF-8 output when the input is, NUL-terminated
 * URLs, and output no larger than a small multiple of the input (entities
 * expand, tags vanish).
 */
#include <string.h>

#include "message/charset.h"
#include "fuzz.h"
#include "message/html.h"

/* fh_url - each URL is NUL-terminated at its length. */
static void fh_url(void *ctx, const char *url, size_t len)
{
	bool *utf8 = ctx;

	if (url == NULL || url[len] != '\0')
		fuzz_fail("URL not NUL-terminated", "html_reduce url");
	if (*utf8)
		fuzz_check_utf8(url, len, "html_reduce url");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *html = (const char *)data;
	bool utf8 = charset_utf8_valid(html, size) == size;
	struct buf out;

	buf_init(&out);
	html_reduce(html, size, &out, fh_url, &utf8);
	if (utf8)
		fuzz_check_utf8(out.data ? out.data : "", out.len, "html_reduce");
	if (out.len > 4 * size + 16)
		fuzz_fail("output much larger than input", "html_reduce");
	buf_free(&out);
	return 0;
}
