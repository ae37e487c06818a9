/*
 * bayesc.h - what bayesc's parts share: the parsed command line, the verbs,
 * and the walk over its inputs (files, maildirs, folders, stdin).
 *
 * bayesc.c parses the command line and runs the verb either offline
 * (--db PATH: offline.c works on the database file with libbayes) or, by
 * default, through bayesd's controller (client.c).
 *
 * Rooms: may use classifier/, config/, corpus/; never milter/.
 */
#ifndef BAYESC_H
#define BAYESC_H

#include <stdbool.h>
#include <stddef.h>

#include "bayes.h"
#include "bayesc_exit.h"

#ifndef BAYESD_RUNDIR
#define BAYESD_RUNDIR "/run/bayesd"
#endif
#define BAYESC_DEFAULT_SOCKET BAYESD_RUNDIR "/controller.sock"
/* the controller port -h HOST means: rspamd's controller port, bayesd.conf's example */
#define BAYESC_DEFAULT_PORT "11334"
#ifndef BAYESD_VERSION
#define BAYESD_VERSION "0.1"
#endif

/* Exit codes, BAYESC_EXIT_*: corpus/bayesc_exit.h (eval.c returns them too). */

enum bayesc_verb {
	VERB_CHECK,		/* also "symbols" */
	VERB_LEARN_SPAM,
	VERB_LEARN_HAM,
	VERB_FORGET,
	VERB_STAT,
	VERB_EVAL,		/* offline only */
	VERB_DUMP,		/* offline only: statistics to stdout as text */
	VERB_RESTORE,		/* offline only: a dump from stdin into a new database */
	VERB_EXPIRE,		/* offline only: remove old, rare statistics */
	VERB_IMPORT_MBOX,	/* import-mbox --spam|--ham: becomes VERB_LEARN_* with mbox set */
	VERB_HISTORY,		/* client only: the scan history (GET /history) */
};

/* EVAL_TRAIN_ONLY, EVAL_SCORE_ONLY (bayesc_opts.eval_phase): corpus/eval.h */

struct bayesc_opts {
	enum bayesc_verb verb;
	const char *verb_name;	/* as typed */
	const char *db;		/* --db PATH: offline mode; NULL = client mode */
	/*
	 * Where offline mode's statistics are: backend and Redis settings
	 * from -c CONFIG (bayesd.conf) or --redis SERVERS, copied into the
	 * engine options by bayesc_store_options().
	 */
	struct bayes_options store;
	const char *socket;	/* -s; else $BAYESC_SOCKET; else the built-in default */
	const char *host;	/* -H HOST:PORT (TCP controller) */
	const char *password;	/* -P */
	const char *user;	/* -u USER or NULL */
	struct bayes_msg_meta meta;	/* check -i IP, --helo NAME (NULL: not given) */
	const char *results;	/* eval --results FILE */
	unsigned windows;	/* eval --windows N: figures per N messages too (0 = none) */
	int eval_phase;		/* eval: 0 score and train, EVAL_TRAIN_ONLY, EVAL_SCORE_ONLY */
	int combiner;		/* --classifier: enum score_combiner, -1 = the default */
	long ngram_bytes;	/* --byte-ngrams N, -1 = the default */
	long ngram_header_bytes;	/* --byte-ngrams N/H, -1 = the default */
	bool score_params;	/* --score-param given (values in store) */
	const char *train_mode;	/* --train-mode: learn only where the mode says (offline) */
	int max_age_days;	/* expire --max-age-days N (0 = the defaults) */
	bool mbox;		/* --mbox, import-mbox: the FILEs are mbox files */
	bool summary_only;	/* import-mbox: no line per message, a summary */
	bool no_recurse;	/* --no-recurse: a directory's own mail only, not its folders' */
	bool json;		/* --json */
	bool explain;		/* --explain */
	bool quiet;		/* -q */
	bool exit_code;		/* -c: check exits 1 when a message is spam */
	int timeout_s;		/* -t, client mode */
	char **args;		/* files / dirs after the verb; none = stdin */
	int nargs;
	unsigned history_n;	/* history -n N (0 = 20) */
	const char *history_action;	/* history --action ACTION */
};

/*
 * inputs_each - call fn for every message named by paths[0..n): a file,
 * a maildir (cur/ and new/), or a folder of message files, and with
 * INPUTS_RECURSE the folders under a directory too (a maildir's Maildir++
 * .Folder and nested subdirectories, a plain folder's non-dot ones; see
 * walk_tree in inputs.c); n == 0 reads one message from stdin (name
 * "-"). With INPUTS_MBOX every file (and stdin) is an mbox file whose
 * messages are handed over one by one as "PATH#N" (mbox.h). With
 * INPUTS_PROGRESS a progress line is drawn on standard error when it is
 * a terminal (progress.h). data is valid during the call only. fn
 * returns false to stop. Errors (unreadable file, directory without mail,
 * file that is no mbox) are printed to stderr as one line each and counted
 * in *errors_r. Returns the number of messages handed to fn.
 */
#define INPUTS_MBOX	0x01
#define INPUTS_PROGRESS	0x02
#define INPUTS_RECURSE	0x08
typedef bool (*inputs_fn)(void *ctx, const char *name, const unsigned char *data, size_t size);
size_t inputs_each(char **paths, int n, unsigned flags, inputs_fn fn, void *ctx, unsigned *errors_r);

/* inputs_flags - the inputs_each() flags for o: mbox, recurse, and progress on learns and forgets. */
unsigned inputs_flags(const struct bayesc_opts *o);

/*
 * inputs_each_max - inputs_each, holding no more than max bytes (> 0) of
 * any message file or of stdin: with INPUTS_CUT a longer message is handed
 * over cut to its first max bytes (the rest of stdin is read and dropped),
 * without it a longer one is refused (counted in *errors_r) and, when its
 * size is known, not read at all. Mbox files keep their own per-message
 * bound (mbox.h).
 */
#define INPUTS_CUT	0x04
size_t inputs_each_max(char **paths, int n, unsigned flags, uint64_t max, inputs_fn fn, void *ctx,
		       unsigned *errors_r);

/* bayesc_store_options - o's backend and Redis settings into opt (after bayes_options_default). */
void bayesc_store_options(const struct bayesc_opts *o, struct bayes_options *opt);

/* The two ways of running a verb; each returns the process exit code. */
int offline_main(const struct bayesc_opts *o);
int client_main(const struct bayesc_opts *o);

#endif
