/*
 * fuzz_tokenize.c - libFuzzer target: tokenize_message() on the input as
 * a message, with small limits, and the contract of struct featvec:
 * sorted ascending, no duplicates, at most max_features, and readable
 * text for every feature when keep_text is set.
 */
#include <string.h>

#include "fuzz.h"
#include "tokens/tokenize.h"

static struct tokenizer *ft_tok;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mime_limits lim;
	unsigned flags = 0;

	if (ft_tok == NULL) {
		struct tok_params p;
		char err[256];

		tok_params_default(&p);
		p.max_features = 2000;
		ft_tok = tokenizer_new(&p, true, err, sizeof(err));
		if (ft_tok == NULL)
			fuzz_fail(err, "tokenizer_new");
	}
	mime_limits_default(&lim);
	lim.max_parts = 50;
	lim.max_depth = 8;
	lim.max_text_bytes = 65536;
	const struct featvec *fv = tokenize_message(ft_tok, data, size, &lim, &flags);
	if (fv == NULL)
		fuzz_fail("no feature vector", "tokenize_message");
	if (fv->n > 2000)
		fuzz_fail("more than max_features", "tokenize_message");
	for (size_t i = 0; i < fv->n; i++) {
		if (i > 0 && fv->hash[i - 1] >= fv->hash[i])
			fuzz_fail("features not sorted and unique", "tokenize_message");
		if (fv->text == NULL || fv->text[i] == NULL)
			fuzz_fail("feature without text (keep_text)", "tokenize_message");
		fuzz_check_utf8(fv->text[i], strlen(fv->text[i]), "feature text");
	}
	return 0;
}
