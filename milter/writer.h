/*
 * writer.h - the single writer: the one thread of bayesd that changes the
 * statistics database.
 *
 * Every learn and forget of the controller goes through here. The writer
 * owns the only read-write struct bayes (opened with BAYES_OPEN_CREATE),
 * takes jobs from a bounded FIFO queue, runs each in its own transaction
 * (bayes_learn / bayes_forget) and only after that call has returned -
 * committed, or failed - marks the job done and wakes its submitter. So a
 * caller that got an answer from writer_submit() may acknowledge the learn:
 * it is on disk (as far as the database's synchronous setting promises).
 *
 * Readers (milter threads, controller checks) never use this module and
 * never wait on it; SQLite's WAL mode keeps them going during a commit.
 *
 * The token cache. When the options carry a shared cache (opt.cache, see
 * count_cache.h), the writer's handle owns it: each learn is applied to it
 * after the commit and before the submitter is woken, so the next check
 * sees the learn. While idle the writer loads it (at start, and again
 * when another process committed or an expiry run ended), looking every
 * WRITER_CACHE_CHECK seconds.
 *
 * Expiry (bayes_expire_step) also runs here, in the background: once every
 * WRITER_EXPIRE_INTERVAL seconds after the last run recorded in the
 * database, one step (at most BAYES_EXPIRE_BATCH rows, one transaction)
 * at a time and only while no job is queued, so a learn waits for one
 * step at most.
 */
#ifndef BAYESD_WRITER_H
#define BAYESD_WRITER_H

#include <stdbool.h>
#include <stddef.h>

#include "bayes.h"

#define WRITER_DEFAULT_QUEUE	64	/* jobs waiting; more are refused (busy) */
#define WRITER_EXPIRE_INTERVAL	86400	/* seconds between expiry runs */
#define WRITER_EXPIRE_DELAY	300	/* seconds after start before a due run */
#define WRITER_CACHE_CHECK	1	/* seconds between looks at the token cache */

enum writer_op {
	WRITER_LEARN_SPAM,
	WRITER_LEARN_HAM,
	WRITER_FORGET,
	WRITER_EXPIRE,		/* start an expiry run now; answered at once (rc 0) */
	WRITER_AUTOLEARN_SPAM,	/* bayes_autolearn; only through writer_post() */
	WRITER_AUTOLEARN_HAM,
	WRITER_CALL,		/* run job->call on the writer thread (history.h) */
};

/*
 * struct writer_job - one request. The submitter fills the first block,
 * keeps the job (and the memory user and data point to) alive until
 * writer_submit() returns, and then reads the results.
 */
struct writer_job {
	enum writer_op op;
	const char *user;		/* NULL or "" = global statistics */
	const unsigned char *data;	/* the raw message */
	size_t size;

	/* results, valid after writer_submit() returned 0 */
	int rc;				/* the engine's: 0 committed, -1 failed */
	enum bayes_learn_outcome outcome;	/* when rc == 0 */
	enum bayes_errkind kind;	/* when rc == -1 */
	char err[256];			/* when rc == -1: one line */

	double prob;			/* autolearn: the score it was learned for */
	char tag[32];			/* autolearn: the queue id, for the log line */

	/*
	 * WRITER_CALL: call(db, job) runs on the writer thread and returns
	 * job->rc (0 or -1, filling outcome or kind and err). db is the
	 * writer's read-write handle, or NULL when needs_db is false (then
	 * the database is not even opened for it). arg is the caller's.
	 */
	int (*call)(struct bayes *db, struct writer_job *job);
	void *arg;
	bool needs_db;

	/* private to writer.c */
	bool posted;			/* writer_post(): freed by the writer, nobody waits */
	bool done;
	struct writer_job *next;
};

struct writer;

/*
 * writer_start - open the database at path read-write (creating it if it
 * is missing) with options opt and start the writer thread with room for
 * queue_max waiting jobs (0 = WRITER_DEFAULT_QUEUE). Returns the writer,
 * or NULL with a one-line reason in err when the database cannot be opened
 * or the thread cannot be started. path and opt are copied.
 */
struct writer *writer_start(const char *path, const struct bayes_options *opt, size_t queue_max,
			    char *err, size_t errlen);

/*
 * writer_submit - queue job and wait until the writer has run it.
 * Returns 0 when the job ran (job->rc says how it went), -1 when it was
 * not queued: the queue is full or the writer is stopping (job->err says
 * which, job->kind is BAYES_ERR_BUSY). Thread-safe.
 */
int writer_submit(struct writer *w, struct writer_job *job);

/*
 * writer_post - fire and forget: queue an autolearn (op
 * WRITER_AUTOLEARN_SPAM or _HAM) of a copy of data[0..size) for user
 * (NULL = global) and return at once; the writer runs it in its turn,
 * logs its outcome with tag (the queue id) and frees it. prob is the
 * score, for the log. Returns 0 when queued, -1 when dropped (the queue
 * is full or the writer is stopping: an autolearn is never worth a
 * wait). Thread-safe; never blocks on a commit.
 */
int writer_post(struct writer *w, enum writer_op op, const char *user, const unsigned char *data,
		size_t size, double prob, const char *tag);

/*
 * writer_post_call - fire and forget: queue job (op WRITER_CALL, from
 * xmalloc/xcalloc, call and arg set) and return at once; the writer runs
 * it in its turn and then frees job (call frees what arg owns). Returns 0
 * when queued, -1 when dropped (half the queue is taken, so learns always
 * find room, or stopping: job freed, arg not, the caller keeps it). Thread-safe; never waits on a commit.
 */
int writer_post_call(struct writer *w, struct writer_job *job);

/*
 * writer_stop - refuse new jobs, run every job already queued (each
 * submitter is answered after its commit), stop the thread, close the
 * database and set *w to NULL. NULL is fine. Submitters must not call
 * writer_submit() on it afterwards.
 */
void writer_stop(struct writer **w);

#endif
