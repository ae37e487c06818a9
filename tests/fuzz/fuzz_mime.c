/*
 * fuzz_mime.c - libFuzzer target: the MIME walk (mime_parse) on the input
 * as a whole message, with a sink that checks the output contract of
 * mime.h: every string handed to the sink is NUL-terminated at its length
 * and valid UTF-8, part information is well-formed, depth never exceeds
 * the limit and the text reported stays within max_text_bytes.
 */
#include <string.h>

#include "fuzz.h"
#include "message/mime.h"

struct fuzz_mime {
	struct mime_limits lim;
	size_t text;
};

/* fm_header - a header field: name and value are strings. */
static void fm_header(void *ctx, unsigned depth, const char *name, size_t name_len,
		      const char *value, size_t value_len)
{
	struct fuzz_mime *fm = ctx;

	if (depth > fm->lim.max_depth + 1)
		fuzz_fail("header deeper than max_depth", "mime header");
	fuzz_check_utf8(name, name_len, "mime header name");
	fuzz_check_utf8(value, value_len, "mime header value");
}

/* fm_opt - an optional part string: NULL or valid UTF-8. */
static void fm_opt(const char *s, const char *where)
{
	if (s != NULL)
		fuzz_check_utf8(s, strlen(s), where);
}

/* fm_part - part information is well-formed. */
static void fm_part(void *ctx, const struct mime_part_info *info)
{
	struct fuzz_mime *fm = ctx;

	if (info->depth > fm->lim.max_depth + 1)
		fuzz_fail("part deeper than max_depth", "mime part");
	if (info->type == NULL)
		fuzz_fail("part without type", "mime part");
	fm_opt(info->type, "mime part type");
	fm_opt(info->charset, "mime part charset");
	fm_opt(info->encoding, "mime part encoding");
	fm_opt(info->filename, "mime part filename");
}

/* fm_text - decoded text: UTF-8, and the total stays under the cap. */
static void fm_text(void *ctx, enum mime_text_kind kind, const char *text, size_t len)
{
	struct fuzz_mime *fm = ctx;

	if (kind != MIME_TEXT_PLAIN && kind != MIME_TEXT_HTML)
		fuzz_fail("unknown text kind", "mime text");
	fuzz_check_utf8(text, len, "mime text");
	fm->text += len;
	if (fm->text > fm->lim.max_text_bytes + 8)
		fuzz_fail("text beyond max_text_bytes", "mime text");
}

/* fm_url - a URL from HTML. */
static void fm_url(void *ctx, const char *url, size_t len)
{
	(void)ctx;
	fuzz_check_utf8(url, len, "mime url");
}

static const struct mime_sink fm_sink = { fm_header, fm_part, fm_text, fm_url };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_mime fm = { .text = 0 };

	/* Small limits, so the fuzzer reaches every cap with small inputs. */
	mime_limits_default(&fm.lim);
	fm.lim.max_parts = 50;
	fm.lim.max_depth = 8;
	fm.lim.max_header_bytes = 4096;
	fm.lim.max_part_bytes = 16384;
	fm.lim.max_text_bytes = 32768;
	mime_parse(data, size, &fm.lim, &fm_sink, &fm);

	/* And once with the defaults. */
	memset(&fm, 0, sizeof(fm));
	mime_limits_default(&fm.lim);
	mime_parse(data, size, NULL, &fm_sink, &fm);
	return 0;
}
