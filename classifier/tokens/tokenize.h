/*
 * tokenize.h - turn a message into features: 64-bit hashes of words, word
 * pairs, header-specific tokens, URLs, addresses, domains and IPs.
 *
 * A tokenizer is fed the events of mime_parse() (see tokenizer_sink())
 * and, optionally, extra facts such as the SMTP client address
 * (tokenizer_add_meta()). tokenizer_finish() then yields the message's
 * features as a sorted array of unique hashes. One tokenizer is used by one
 * thread at a time and is reused from message to message (tokenizer_reset),
 * so there is no allocation per token in the steady state.
 *
 * Text is normalised with ICU (NFKC + case fold) and split into words with
 * an ICU word break iterator, so Chinese, Japanese and Thai yield words.
 *
 * The parameters that change which hash a given text gets are in struct
 * tok_params; tok_params_string() renders them canonically so that the store
 * can record them and refuse a database written with different ones.
 *
 * Rooms: may use message/ and util.h.
 */
#ifndef BAYES_TOKENIZE_H
#define BAYES_TOKENIZE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "message/mime.h"
#include "util.h"

#define TOK_VERSION		2	/* bump whenever the hash of any text changes */
#define TOK_DEFAULT_SEED	0x62617965736431ULL	/* "bayesd1" */
#define TOK_DEFAULT_OSB_WINDOW	2	/* word pairs: each word with the one before it (measured; README) */
#define TOK_DEFAULT_MAX_FEATURES 20000	/* unique features kept per message */
#define TOK_DEFAULT_MAX_WORD	40	/* longer words are cut to a length class token */
#define TOK_DEFAULT_NGRAM_BYTES	3000	/* raw bytes cut into 4-grams (measured; README) */
#define TOK_DEFAULT_NGRAM_HEADER_BYTES 2000	/* of them, at most this many header bytes */

struct tok_params {
	unsigned version;	/* TOK_VERSION */
	uint64_t seed;		/* hash seed */
	unsigned osb_window;	/* 0 or 1 = no word pairs; N = pairs at distance 1..N-1 */
	unsigned max_features;	/* cap on unique features per message */
	unsigned max_word;	/* in code points */
	unsigned ngram_bytes;	/* byte 4-grams of the first N raw bytes; 0 = none */
	unsigned ngram_header_bytes;	/* of those N, at most this many from the header; 0 = no cap */
};

/* tok_params_default - the defaults above. */
void tok_params_default(struct tok_params *p);

/*
 * tok_params_string - canonical text of p ("v=1 seed=... osb=5 ..."),
 * written into out (reset first).
 */
void tok_params_string(const struct tok_params *p, struct buf *out);

/*
 * struct featvec - the features of one message, sorted ascending by hash,
 * no duplicates. When the tokenizer keeps text (keep_text), text[i] is a
 * readable form of feature i ("subject:viagra", "osb:cheap pills" ...),
 * owned by the tokenizer and valid until the next reset; otherwise NULL.
 */
struct featvec {
	uint64_t *hash;
	const char **text;
	size_t n;
	bool truncated;		/* max_features was reached */
};

struct tokenizer;

/*
 * tokenizer_new - a tokenizer with parameters p (copied). keep_text asks
 * it to remember the readable text of each feature, for explanations;
 * it costs time and memory, so scoring leaves it off. Returns NULL if ICU
 * could not be initialised (the reason is written to err).
 */
struct tokenizer *tokenizer_new(const struct tok_params *p, bool keep_text,
				char *err, size_t errlen);

/* tokenizer_free - release t and set *t to NULL. NULL is fine. */
void tokenizer_free(struct tokenizer **t);

/* tokenizer_reset - forget the previous message; keeps allocated memory. */
void tokenizer_reset(struct tokenizer *t);

/* tokenizer_sink - the mime_sink whose ctx is a struct tokenizer *. */
const struct mime_sink *tokenizer_sink(void);

/*
 * tokenizer_add_meta - add a fact about the message that is not in it,
 * e.g. ("client-ip", "192.0.2.1") or ("helo", "mx.example.com"): it
 * yields prefixed features as a header of that name would.
 */
void tokenizer_add_meta(struct tokenizer *t, const char *name, const char *value);

/*
 * tokenizer_add_bytes - add the byte 4-grams of the raw message: every
 * window of 4 bytes in its first ngram_bytes bytes, CR left out (so a
 * message read from a file and the same one from the milter, in CRLF,
 * agree), and at most ngram_header_bytes of them from the header (0: no
 * cap). Nothing when ngram_bytes is 0.
 */
void tokenizer_add_bytes(struct tokenizer *t, const unsigned char *data, size_t size);

/*
 * tokenizer_finish - sort and de-duplicate what was fed since the last
 * reset and return it. The featvec belongs to the tokenizer and stays valid
 * until the next reset or free.
 */
const struct featvec *tokenizer_finish(struct tokenizer *t);

/*
 * tokenize_message - convenience: reset, mime_parse(data, size, lim) into
 * the tokenizer, finish. *mime_flags_r (if not NULL) gets mime_parse()'s
 * flags. Returns the features, as tokenizer_finish().
 */
const struct featvec *tokenize_message(struct tokenizer *t, const unsigned char *data,
				       size_t size, const struct mime_limits *lim,
				       unsigned *mime_flags_r);

#endif
