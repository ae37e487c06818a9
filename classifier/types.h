/*
 * types.h - the words libbayes' rooms share: message classes, error kinds,
 * open flags, the backend and Redis settings, statistics and expiry
 * records. The engine (bayes.h, which includes this) and the store
 * (store/) both use them; the store never includes bayes.h.
 *
 * Rooms: may use nothing of libbayes (system headers only).
 */
#ifndef BAYES_TYPES_H
#define BAYES_TYPES_H

#include <stdbool.h>
#include <stdint.h>

enum bayes_class {
	BAYES_HAM = 0,
	BAYES_SPAM = 1,
};

enum bayes_errkind {
	BAYES_ERR_NONE = 0,
	BAYES_ERR_BUSY,		/* database locked: try later */
	BAYES_ERR_DB,		/* database missing, corrupt, full, I/O error */
	BAYES_ERR_INCOMPATIBLE,	/* written by another tokenizer / schema */
	BAYES_ERR_INPUT,	/* bad argument (e.g. empty message) */
};

#define BAYES_OPEN_RDONLY	0x01	/* never write (the milter's handles) */
#define BAYES_OPEN_CREATE	0x02	/* create the database if it is missing */
/*
 * BAYES_OPEN_BULK: keep a user's whole token table in memory once it is
 * first read, for long runs of checks and learns (bayesc on directories,
 * evaluation). The copy follows this handle's own learns and is dropped
 * and re-read whenever another connection commits, so it is never stale;
 * it costs about 32 bytes per token.
 */
#define BAYES_OPEN_BULK		0x04

/* Where the statistics live (bayes_options.backend). */
enum bayes_backend {
	BAYES_BACKEND_SQLITE,	/* one database file (the path given to bayes_open) */
	BAYES_BACKEND_REDIS,	/* a Redis server shared by several nodes (bayes_redis_options) */
};

#define BAYES_REDIS_DEFAULT_SERVERS	"127.0.0.1:6379"
#define BAYES_REDIS_DEFAULT_PREFIX	"bayes:"
#define BAYES_REDIS_DEFAULT_TIMEOUT_MS	1000

/*
 * The Redis backend's settings. Fixed arrays, not pointers, so a copy of
 * struct bayes_options owns everything it says (the daemon keeps copies
 * across configuration reloads).
 */
struct bayes_redis_options {
	/*
	 * "host:port" entries separated by commas or blanks: the first is
	 * the primary, which every write goes to; the others are read-only
	 * replicas that read-only handles fall back to when it is down.
	 */
	char servers[512];
	char password[256];		/* AUTH; "" = none */
	unsigned db;			/* SELECT */
	char prefix[128];		/* every key starts with it */
	unsigned connect_timeout_ms;	/* bound on connecting (and on AUTH, SELECT) */
	unsigned command_timeout_ms;	/* bound on each reply */
};

struct bayes_stats {
	uint64_t learned_spam, learned_ham;	/* messages */
	uint64_t tokens;			/* rows in the token table */
	uint64_t remembered;			/* learned-message digests kept */
	uint64_t users;
	int64_t db_bytes;
	const char *tok_params;			/* canonical tokenizer parameters */
	int schema_version;
	int64_t last_expire;			/* Unix time of the last expiry, 0 = never */
};

/*
 * Expiry, in the spirit of dspam's purge. A token row (of any user) is
 * removed when it was last learned (its "seen" day) before:
 *   hapax_days ago and it was seen once (spam + ham == 1),
 *   neutral_days ago and it is rare (spam + ham < BAYES_EXPIRE_RARE) and
 *     neutral (its per-class frequency ratio within BAYES_EXPIRE_NEUTRAL
 *     of 0.5), or
 *   any_days ago, whatever its counts;
 * and a learned-message digest is forgotten learned_days after it was
 * learned (the message can then be learned again as new). 0 disables a
 * rule. The time of a finished expiry is kept in the meta table
 * (bayes_stats().last_expire).
 */
#define BAYES_EXPIRE_HAPAX_DAYS		15
#define BAYES_EXPIRE_NEUTRAL_DAYS	60
#define BAYES_EXPIRE_ANY_DAYS		180
#define BAYES_EXPIRE_LEARNED_DAYS	365
#define BAYES_EXPIRE_RARE		5	/* "rare": fewer messages than this */
#define BAYES_EXPIRE_NEUTRAL		0.1	/* "neutral": |p - 0.5| below this */
#define BAYES_EXPIRE_BATCH		10000	/* rows per transaction */

struct bayes_expire_rules {
	unsigned hapax_days, neutral_days, any_days, learned_days;
	unsigned batch_rows;	/* rows examined per transaction (0 = default) */
};

/*
 * struct bayes_expire_state - one expiry run, done in steps. Fill it with
 * bayes_expire_begin(); the counters say what was removed so far.
 */
struct bayes_expire_state {
	struct bayes_expire_rules rules;
	int64_t now;				/* Unix time the ages count from */
	uint64_t hapaxes, neutral, stale;	/* token rows removed, by rule */
	uint64_t learned;			/* learned-message digests forgotten */
	/* private */
	int phase;
	int64_t cur_user;
	uint64_t cur_hash;
};

#endif
