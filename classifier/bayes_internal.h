/*
 * bayes_internal.h - what the engine's files (bayes.c, bayes_check.c,
 * bayes_learn.c, bayes_admin.c) share: the handle and the helpers every
 * entry point uses. Private to classifier/'s engine: the programs use
 * bayes.h, the stages below never include this.
 */
#ifndef BAYES_INTERNAL_H
#define BAYES_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "bayes.h"
#include "score/score.h"
#include "store/store.h"
#include "tokens/tokenize.h"

struct batch_deltas;

struct bayes {
	struct store *store;
	struct tokenizer *tok;
	struct bayes_options opt;
	struct score_params sp;
	enum bayes_errkind errkind;
	char errmsg[1100];

	/* the last message tokenized, to reuse its features */
	uint64_t last_key;
	size_t last_size;
	const struct featvec *last_fv;
	unsigned last_mime_flags;
	bool last_meta;

	/* per-call scratch, grown as needed */
	struct store_counts *counts;
	struct store_counts *gcounts;	/* the global counts, when blending */
	double *fprob;
	struct score_memo *memo;	/* score_combine's, made at the first check */
	size_t *miss;			/* shared cache misses: indexes, */
	uint64_t *mhash;		/* their hashes */
	struct store_counts *mcounts;	/* and their counts from the store */
	size_t cap;

	/*
	 * The shared cache (opt.cache). The owner (the read-write handle
	 * given it) records the global deltas of a learn in its transaction
	 * and applies them to the cache after the commit.
	 */
	bool cache_owner;
	bool cache_follow;		/* the open transaction may be applied to the cache */
	int cache_ds, cache_dh;		/* global deltas of the open transaction */

	/*
	 * The file the handle opened. SQLite keeps reading and writing an
	 * open file after it was unlinked or renamed over, so a daemon whose
	 * database was deleted or replaced would go on acknowledging learns
	 * into a file nobody will see again. Each call compares the path's
	 * device and inode with these first and fails with a database error,
	 * which makes the callers close the handle and reopen. The file's
	 * header is read again only when its size or time changed since it
	 * was last found good.
	 */
	char *path;
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
	bool file_known;		/* false: nothing to compare (not a file) */

	/* bayes_batch_begin: learns share one transaction until batch_commit */
	bool batch;			/* a batch is open */
	bool batch_txn;			/* and its transaction has begun */
	bool batch_lost;		/* a failed learn rolled the batch back */
	struct batch_deltas *pending;		/* the batch's count changes not yet written */
};

/* eng_set_err - record an error of our own; returns -1. */
int eng_set_err(struct bayes *b, enum bayes_errkind kind, const char *msg);
/* eng_store_err - copy the store's error; returns -1. */
int eng_store_err(struct bayes *b);
/* eng_file_moved - -1 with a database error when the path no longer names the open file. */
int eng_file_moved(struct bayes *b);
/* eng_read_begin/end - a read snapshot around one call's lookups (or the open batch's). */
int eng_read_begin(struct bayes *b);
void eng_read_end(struct bayes *b);
/* eng_features - tokenize data (or reuse the last result for the same bytes). */
const struct featvec *eng_features(struct bayes *b, const unsigned char *data, size_t size,
				   const struct bayes_msg_meta *meta, unsigned *mime_flags_r);
/* eng_grow - scratch arrays for n features. */
void eng_grow(struct bayes *b, size_t n);

#endif
