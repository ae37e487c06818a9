/*
 * writer.c - the single writer thread. See writer.h.
 *
 * One mutex guards the queue; the writer sleeps on "work" and submitters
 * sleep on "done" (broadcast: there are few submitters, each checks its own
 * job's flag). Jobs live in the submitters' memory, so nothing is allocated
 * per learn here, and writer_stop() drains the queue before joining so no
 * submitter is left waiting on a job that will never run.
 *
 * Posted jobs (writer_post, the milter's autolearns) are allocated with
 * their copy of the message, queued like the others, and freed by the
 * writer after they ran; their submitter has long gone on.
 *
 * Expiry runs between jobs: the thread sleeps until a job comes or the
 * next run is due, and a run in progress takes one step per turn of the
 * loop when the queue is empty.
 *
 * When the engine reports a database error (file gone, corrupt, disk full)
 * the handle is closed and reopened for the next job, so an operator who
 * restores the file does not have to restart the daemon. Only the first
 * open creates a missing database: one removed under the running daemon
 * is an accident or an operator's restore in progress, and an empty
 * database made in its place would quietly score every message 0.5 and
 * take learns that the restore then throws away.
 */
#include "writer.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "metrics.h"
#include "tokens/count_cache.h"
#include "util.h"

struct writer {
	pthread_mutex_t lock;
	pthread_cond_t work;		/* writer: a job is queued or stop was asked */
	pthread_cond_t done;		/* submitters: some job finished */
	struct writer_job *head, *tail;
	size_t queued, queue_max;
	bool stopping;
	pthread_t thread;

	struct bayes *db;		/* only the writer thread touches it after start */
	char *path;
	bool opened;			/* opened once: never create it again */
	struct bayes_options opt;

	/* background expiry: only the writer thread touches these after start */
	time_t next_expire;		/* when the next run is due */
	bool expiring;			/* a run is in progress */
	struct bayes_expire_state exp;
};

/* writer_reopen - (re)open the read-write handle; false with err set. */
static bool writer_reopen(struct writer *w, char *err, size_t errlen, enum bayes_errkind *kind_r)
{
	struct stat sb;
	bool missing;

	bayes_close(&w->db);
	/* a file that was there and is gone: only SQLite keeps statistics in one */
	missing = w->opt.backend == BAYES_BACKEND_SQLITE && stat(w->path, &sb) != 0 && errno == ENOENT;
	if (w->opened && missing) {
		snprintf(err, errlen, "%s: the database was removed while bayesd ran; not creating an "
			 "empty one (restore the file, or restart bayesd to start a new database)", w->path);
		if (kind_r)
			*kind_r = BAYES_ERR_DB;
		return false;
	}
	w->db = bayes_open(w->path, BAYES_OPEN_CREATE, &w->opt, err, errlen, kind_r);
	if (w->db != NULL)
		w->opened = true;
	return w->db != NULL;
}

/* writer_run_job - run one job on the handle, fill its results. */
static void writer_run_job(struct writer *w, struct writer_job *job)
{
	job->rc = -1;
	job->kind = BAYES_ERR_NONE;
	job->err[0] = '\0';

	if (job->op == WRITER_CALL && !job->needs_db) {
		job->rc = job->call(NULL, job);
		return;
	}
	if (w->db == NULL && !writer_reopen(w, job->err, sizeof(job->err), &job->kind)) {
		if (job->kind == BAYES_ERR_NONE)
			job->kind = BAYES_ERR_DB;
		return;
	}
	switch (job->op) {
	case WRITER_LEARN_SPAM:
	case WRITER_LEARN_HAM:
		job->rc = bayes_learn(w->db, job->user,
				      job->op == WRITER_LEARN_SPAM ? BAYES_SPAM : BAYES_HAM,
				      job->data, job->size, &job->outcome);
		break;
	case WRITER_FORGET:
		job->rc = bayes_forget(w->db, job->user, job->data, job->size, &job->outcome);
		break;
	case WRITER_AUTOLEARN_SPAM:
	case WRITER_AUTOLEARN_HAM:
		job->rc = bayes_autolearn(w->db, job->user,
					  job->op == WRITER_AUTOLEARN_SPAM ? BAYES_SPAM : BAYES_HAM,
					  job->prob, job->data, job->size, &job->outcome);
		break;
	case WRITER_CALL:
		job->rc = job->call(w->db, job);
		break;
	case WRITER_EXPIRE:
		w->next_expire = time(NULL);
		job->rc = 0;
		break;
	}
	if (job->rc != 0) {
		job->kind = bayes_errkind(w->db);
		snprintf(job->err, sizeof(job->err), "%s", bayes_errmsg(w->db));
		if (job->kind == BAYES_ERR_DB)	/* reopen before the next job */
			bayes_close(&w->db);
	}
}

/*
 * writer_run_retry - run a job; after a database error once more on a
 * reopened handle, so a database restored by replacing the file takes the
 * learn instead of failing it. A learn that failed was rolled back, and a
 * learn that did commit says "already learned" the second time.
 */
static void writer_run_retry(struct writer *w, struct writer_job *job)
{
	writer_run_job(w, job);
	if (job->rc != 0 && job->kind == BAYES_ERR_DB)
		writer_run_job(w, job);
}

/* writer_expire_step - one step of the background expiry run (unlocked). */
static void writer_expire_step(struct writer *w)
{
	char err[256];
	enum bayes_errkind kind = BAYES_ERR_NONE;
	struct bayes_expire_state *e = &w->exp;
	int rc;

	if (w->db == NULL && !writer_reopen(w, err, sizeof(err), &kind)) {
		log_warning("expire: %s", err);
		w->expiring = false;
		w->next_expire = time(NULL) + WRITER_EXPIRE_INTERVAL;
		return;
	}
	if (!w->expiring) {
		bayes_expire_begin(e, NULL, stats_clock());
		w->expiring = true;
	}
	rc = bayes_expire_step(w->db, e);
	if (rc > 0)
		return;
	w->expiring = false;
	w->next_expire = time(NULL) + WRITER_EXPIRE_INTERVAL;
	if (rc < 0) {
		log_warning("expire: %s; next try in %d s", bayes_errmsg(w->db), WRITER_EXPIRE_INTERVAL);
		if (bayes_errkind(w->db) == BAYES_ERR_DB)
			bayes_close(&w->db);
		return;
	}
	log_info("expire: removed %llu tokens (%llu hapaxes, %llu rare neutral, %llu stale), "
		 "%llu learned messages",
		 (unsigned long long)(e->hapaxes + e->neutral + e->stale), (unsigned long long)e->hapaxes,
		 (unsigned long long)e->neutral, (unsigned long long)e->stale,
		 (unsigned long long)e->learned);
}

/*
 * writer_cache_refresh - (unlocked) load the shared token cache when it is
 * not loaded or another process committed. Not while an expiry run is
 * under way: each step drops the cache again, and readers do without.
 */
static void writer_cache_refresh(struct writer *w)
{
	char err[256];
	enum bayes_errkind kind = BAYES_ERR_NONE;
	struct timespec t0, t1;
	int rc;

	if (w->opt.cache == NULL || w->expiring)
		return;
	/*
	 * A database we may not write (file mode, read-only mount) is opened
	 * with a private, read-only WAL index, and SQLite then reports a new
	 * data_version for every transaction: the cache would be reloaded
	 * every second. Nobody learns through us then; load it once.
	 */
	int64_t at;
	if (count_cache_loaded(w->opt.cache, &at) && access(w->path, W_OK) != 0)
		return;
	if (w->db == NULL && !writer_reopen(w, err, sizeof(err), &kind))
		return;		/* the next job says why */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = bayes_cache_refresh(w->db);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (rc < 0) {
		log_warning("token cache: %s; checks read the database", bayes_errmsg(w->db));
		if (bayes_errkind(w->db) == BAYES_ERR_DB)
			bayes_close(&w->db);
	} else if (rc > 0) {
		struct count_cache_info ti;
		count_cache_info(w->opt.cache, &ti);
		log_info("token cache: loaded %zu tokens (%s, %zu MB) in %.0f ms", ti.tokens,
			 ti.complete ? "all of them" : "partial: the rest from the database",
			 ti.bytes >> 20,
			 (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
	}
}

/* writer_posted_done - log a posted job's outcome and free it (unlocked). */
static void writer_posted_done(struct writer_job *job)
{
	const char *cls = job->op == WRITER_AUTOLEARN_SPAM ? "spam" : "ham";
	const char *u = job->user ? job->user : "";

	if (job->rc != 0)
		metrics_autolearn_skipped(METRICS_AUTOLEARN_ERROR);
	else if (job->outcome == BAYES_LEARNED || job->outcome == BAYES_RELEARNED)
		metrics_autolearned(job->op == WRITER_AUTOLEARN_SPAM);
	else
		metrics_autolearn_skipped(job->outcome == BAYES_ALREADY ? METRICS_AUTOLEARN_ALREADY :
					  job->outcome == BAYES_KEPT_MANUAL ? METRICS_AUTOLEARN_MANUAL :
					  job->outcome == BAYES_SKIPPED ? METRICS_AUTOLEARN_MATURE :
					  METRICS_AUTOLEARN_ERROR);
	if (job->rc != 0)
		log_warning("%s: autolearn %s%s%s failed: %s", job->tag, cls, *u ? " for " : "", u,
			    job->err);
	else
		log_info("%s: autolearn %s%s%s, score=%.5f: %s", job->tag, cls, *u ? " for " : "", u,
			 job->prob, bayes_outcome_name(job->outcome));
	free(job);
}

/* writer_main - the thread: take jobs in order until stopped and drained. */
static void *writer_main(void *arg)
{
	struct writer *w = arg;
	struct writer_job *job;

	pthread_mutex_lock(&w->lock);
	for (;;) {
		while (w->head == NULL && !w->stopping && !w->expiring && time(NULL) < w->next_expire) {
			struct timespec until = { .tv_sec = w->next_expire };
			/* with a token cache: look for other writers' commits every few seconds */
			if (w->opt.cache) {
				time_t soon = time(NULL) + WRITER_CACHE_CHECK;
				if (soon < until.tv_sec)
					until.tv_sec = soon;
			}
			pthread_cond_timedwait(&w->work, &w->lock, &until);
			if (w->head == NULL && !w->stopping && w->opt.cache) {
				pthread_mutex_unlock(&w->lock);
				writer_cache_refresh(w);
				pthread_mutex_lock(&w->lock);
			}
		}
		if (w->head == NULL && w->stopping)	/* stopping and drained */
			break;
		if (w->head == NULL) {
			/* idle, and an expiry run is due or under way: one step */
			pthread_mutex_unlock(&w->lock);
			writer_expire_step(w);
			pthread_mutex_lock(&w->lock);
			continue;
		}
		job = w->head;
		w->head = job->next;
		if (w->head == NULL)
			w->tail = NULL;
		w->queued--;
		pthread_mutex_unlock(&w->lock);

		writer_run_retry(w, job);	/* the commit happens here, unlocked */
		if (job->posted && job->op == WRITER_CALL) {
			free(job);
			pthread_mutex_lock(&w->lock);
			continue;
		}
		if (job->posted) {
			writer_posted_done(job);
			pthread_mutex_lock(&w->lock);
			continue;
		}

		pthread_mutex_lock(&w->lock);
		job->done = true;
		pthread_cond_broadcast(&w->done);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}


/* writer_free - close the handle and release w; the thread is not running. */
static void writer_free(struct writer *w)
{
	bayes_close(&w->db);
	pthread_cond_destroy(&w->done);
	pthread_cond_destroy(&w->work);
	pthread_mutex_destroy(&w->lock);
	free(w->path);
	free(w);
}

/* writer_start - open the database, start the thread. */
struct writer *writer_start(const char *path, const struct bayes_options *opt, size_t queue_max,
			    char *err, size_t errlen)
{
	struct writer *w = xcalloc(1, sizeof(*w));
	int rc;

	w->path = xstrdup(path);
	if (opt)
		w->opt = *opt;
	else
		bayes_options_default(&w->opt);
	w->queue_max = queue_max ? queue_max : WRITER_DEFAULT_QUEUE;
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->work, NULL);
	pthread_cond_init(&w->done, NULL);

	enum bayes_errkind kind = BAYES_ERR_NONE;
	if (!writer_reopen(w, err, errlen, &kind)) {
		/*
		 * A Redis server that is down now may be back in a minute, and
		 * a database on a read-only mount still serves checks (and may
		 * be remounted): start anyway, and each job opens the handle
		 * again (and fails clearly until then). Any other local file
		 * that cannot be opened will not heal by itself.
		 */
		bool redis_down = w->opt.backend == BAYES_BACKEND_REDIS && kind == BAYES_ERR_DB;
		bool readonly_fs = w->opt.backend == BAYES_BACKEND_SQLITE && path_on_readonly_fs(path);
		if (!redis_down && !readonly_fs)
			goto fail;
		log_warning("writer: %s; learning fails until it %s", err,
			    redis_down ? "is reachable" : "can write");
	}
	/* the next expiry: a day after the last one, but not in the first minutes */
	struct bayes_stats st;
	time_t now = time(NULL);
	w->next_expire = now + WRITER_EXPIRE_DELAY;
	if (w->db && bayes_stats(w->db, NULL, &st) == 0 && st.last_expire + WRITER_EXPIRE_INTERVAL > w->next_expire)
		w->next_expire = (time_t)st.last_expire + WRITER_EXPIRE_INTERVAL;
	if ((rc = pthread_create(&w->thread, NULL, writer_main, w)) != 0) {
		snprintf(err, errlen, "writer thread: %s", strerror(rc));
		goto fail;
	}
	return w;

fail:
	writer_free(w);
	return NULL;
}

/* enqueue_locked - append job to the queue and wake the writer; w->lock held. */
static void enqueue_locked(struct writer *w, struct writer_job *job)
{
	if (w->tail)
		w->tail->next = job;
	else
		w->head = job;
	w->tail = job;
	w->queued++;
	pthread_cond_signal(&w->work);
}

/*
 * post_bounded - queue a posted job unless the writer is stopping or holds
 * limit jobs already (then the job is freed); -1 when not queued.
 */
static int post_bounded(struct writer *w, struct writer_job *job, size_t limit)
{
	pthread_mutex_lock(&w->lock);
	if (w->stopping || w->queued >= limit) {
		pthread_mutex_unlock(&w->lock);
		free(job);
		return -1;
	}
	enqueue_locked(w, job);
	pthread_mutex_unlock(&w->lock);
	return 0;
}

/* writer_submit - queue a job and wait for its commit (or failure). */
int writer_submit(struct writer *w, struct writer_job *job)
{
	job->done = false;
	job->next = NULL;

	pthread_mutex_lock(&w->lock);
	if (w->stopping || w->queued >= w->queue_max) {
		job->rc = -1;
		job->kind = BAYES_ERR_BUSY;
		snprintf(job->err, sizeof(job->err), "%s",
			 w->stopping ? "shutting down" : "too many learns queued, try later");
		pthread_mutex_unlock(&w->lock);
		return -1;
	}
	enqueue_locked(w, job);
	while (!job->done)
		pthread_cond_wait(&w->done, &w->lock);
	pthread_mutex_unlock(&w->lock);
	return 0;
}

/* writer_post - queue a copy, return at once. */
int writer_post(struct writer *w, enum writer_op op, const char *user, const unsigned char *data,
		size_t size, double prob, const char *tag)
{
	size_t ulen = user ? strlen(user) + 1 : 0;
	struct writer_job *job;
	char *p;

	/* one block: the job, then the message, then the user name */
	job = xcalloc(1, sizeof(*job) + size + ulen);
	p = (char *)(job + 1);
	memcpy(p, data, size);
	job->data = (const unsigned char *)p;
	job->size = size;
	if (user) {
		memcpy(p + size, user, ulen);
		job->user = p + size;
	}
	job->op = op;
	job->prob = prob;
	snprintf(job->tag, sizeof(job->tag), "%s", tag ? tag : "NOQUEUE");
	job->posted = true;

	return post_bounded(w, job, w->queue_max);
}

/* writer_post_call - queue a call, return at once. */
int writer_post_call(struct writer *w, struct writer_job *job)
{
	job->op = WRITER_CALL;
	job->posted = true;
	job->next = NULL;
	/* half the queue at most: history rows never crowd out a user's learn */
	return post_bounded(w, job, (w->queue_max + 1) / 2);
}

/* writer_stop - drain the queue, join, close. */
void writer_stop(struct writer **wp)
{
	struct writer *w = *wp;

	if (w == NULL)
		return;
	*wp = NULL;
	pthread_mutex_lock(&w->lock);
	w->stopping = true;
	pthread_cond_signal(&w->work);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	writer_free(w);
}
