/*
 * eval.h - bayesc eval (eval.c): the TREC immediate-feedback run, and
 * what it needs of bayesc's command line, filled in by trainer/bayesc.c.
 *
 * Rooms: classifier (bayes.h) and corpus/bayesc_exit.h; never trainer/.
 */
#ifndef BAYESC_EVAL_H
#define BAYESC_EVAL_H

#include <stdbool.h>

#include "bayes.h"

#define EVAL_TRAIN_ONLY	1	/* eval --train-only: learn every message, score none */
#define EVAL_SCORE_ONLY	2	/* eval --score-only: score every message, learn none */

struct eval_opts {
	const char *db;		/* --db PATH */
	/* the engine options: defaults, then bayesc's -c, --redis, --classifier, ... */
	struct bayes_options engine;
	const char *results;	/* --results FILE */
	unsigned windows;	/* --windows N: figures per N messages too (0 = none) */
	int phase;		/* 0 score and train, EVAL_TRAIN_ONLY, EVAL_SCORE_ONLY */
	bool json;		/* --json */
	char **args;		/* the TREC index (one) */
	int nargs;
};

/* eval_main - bayesc eval; returns the process exit code (BAYESC_EXIT_*). */
int eval_main(const struct eval_opts *o);

#endif
