/*
 * history.h - the scan history: one row per scored message, kept in a
 * bounded ring in its own SQLite file (history_database) or, on Redis, a
 * capped list (history_redis.h), for "why was this mail rejected
 * yesterday?" and for learning or forgetting a message nobody has any
 * more.
 *
 * What a row keeps: time, queue id, Message-ID, envelope sender, header
 * From, Subject, recipient count and the first HISTORY_RCPTS recipients,
 * client IP, HELO, size, probability, action, per-user key, the
 * HISTORY_TOP strongest features (readable text, probability, spam and
 * ham counts at scan time), scan time in ms, the message digest, and
 * every feature hash of the message (8 bytes each, at most
 * HISTORY_MAX_HASHES: what a learn by digest applies). With
 * history_addresses = hash the sender, From and recipients are kept as
 * "h:" and 16 hex digits of a 64-bit hash of the lower-cased local part,
 * then "@domain".
 *
 * Threads: history_capture() runs in a milter thread and only builds a
 * record and posts it to the writer thread (writer_post_call); the
 * writer inserts it and trims the ring. A full writer queue drops the
 * row (counted, never waited for). Readers (the controller) use their
 * own connection under a mutex; WAL keeps them from waiting on the insert.
 */
#ifndef BAYESD_HISTORY_H
#define BAYESD_HISTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "bayes.h"
#include "config.h"

#define HISTORY_RCPTS		5	/* recipients kept per row */
#define HISTORY_TOP		12	/* features shown per row */
#define HISTORY_MAX_HASHES	20000	/* feature hashes kept; more: no learn by digest */
#define HISTORY_PAGE_MAX	500	/* rows per /history page */

struct writer;

/*
 * history_configure - take cfg's history settings (at start and on
 * reload; a changed history_database needs a restart). Thread-safe.
 */
void history_configure(const struct bayesd_config *cfg);

/* history_www_dir - www_dir ("" = no page) into out. */
void history_www_dir(char *out, size_t outlen);

/* history_enabled - history = yes. */
bool history_enabled(void);

/*
 * struct history_msg - what the milter knows of one scored message. All
 * strings may be NULL; history_capture() copies what it keeps.
 */
struct history_msg {
	const char *qid, *msgid, *sender, *hfrom, *subject, *ip, *helo, *user, *action;
	const char *const *rcpts;	/* the first nrcpts_kept recipients */
	size_t nrcpts_kept;
	unsigned nrcpt;
	size_t size;
	double prob, ms;
};

/*
 * history_snap - right after a check on handle b, before the handle is
 * given back: a copy of what the row keeps from the engine (the top
 * features of r with their texts, every feature hash of the message
 * but those meta (client IP, HELO) added: what a learn of the message
 * would apply, so a learn by digest and a learn of the message are the
 * same learn). Uses b's tokenizer: call it last.
 * NULL when the history is off. Owned by the caller, passed on to
 * history_capture() or released with history_snap_free().
 */
struct history_snap;
struct history_snap *history_snap(struct bayes *b, const struct bayes_result *r,
				  const struct bayes_msg_meta *meta);
void history_snap_free(struct history_snap **s);

/*
 * history_capture - record m with snap (taken over, set to NULL) and the
 * message digest of data[0..size) through writer w. Never blocks on I/O.
 * NULL w or snap: nothing recorded.
 */
void history_capture(struct writer *w, struct history_snap **snap,
		     const unsigned char *data, size_t size, const struct history_msg *m);

/*
 * struct history_filter - a /history query. Strings NULL = any.
 */
struct history_filter {
	const char *action;
	double min_prob, max_prob;	/* inclusive; 0 and 1 = any */
	const char *sender, *rcpt, *text;	/* substring matches */
	int64_t before_id;		/* 0 = newest first; else rows with id < this */
	unsigned limit;			/* 0 = 50 */
};

/*
 * history_list - rows matching f, newest first, as
 * {"rows":[...], "total":N, "size":history_size}. NULL with err on failure.
 * Owned by the caller.
 */
json_t *history_list(const struct history_filter *f, char *err, size_t errlen);

/* history_get - one row with its features, or NULL (err "" = not found). */
json_t *history_get(int64_t id, char *err, size_t errlen);

/* history_graph - /graph: per hour by action, score histogram, scan ms p50/p99. */
json_t *history_graph(char *err, size_t errlen);

/*
 * history_features - the newest row with digest hex (32 hex digits):
 * its digest bytes, user ("" = global) and its feature hashes in
 * *hash_r (caller frees). Returns 1 found, 0 not found (or kept no
 * hashes), -1 error.
 */
int history_features(const char *hex, uint8_t digest[16], char *user, size_t userlen,
		     uint64_t **hash_r, size_t *n_r, char *err, size_t errlen);

/* history_dropped - rows dropped because the writer queue was full. */
unsigned long history_dropped(void);

/*
 * history_close - close the connections (at exit, the writer stopped); the
 * next history_configure() takes its settings afresh.
 */
void history_close(void);

#endif
