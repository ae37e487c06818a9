/*
 * history.c - the scan history ring (history.h).
 *
 * One table in its own SQLite file (WAL). Rows get increasing ids; after
 * each insert the writer deletes ids at or below last - history_size, so
 * the table never holds more than history_size rows. The milter never
 * touches SQLite here: it builds a record and posts it to the writer
 * thread, which owns the only read-write connection (hist_w).
 *
 * On Redis (history_redis.c) the writer pushes the row as JSON instead,
 * and the readers query an in-memory copy of the list whose "history"
 * view has this table's columns: the queries here serve both.
 */
#include "history.h"

#include <ctype.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>
#define XXH_INLINE_ALL
#include <xxhash.h>

#include "history_redis.h"
#include "log.h"
#include "util.h"
#include "writer.h"

static pthread_mutex_t hist_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
	bool on;
	bool hash_addresses;
	bool redis;		/* the rows live on Redis (fixed at start) */
	bool configured;
	unsigned size;
	char path[1024];
	char www[1024];
} hist_set;

static sqlite3 *hist_w;			/* the writer thread's */
static sqlite3 *hist_r;			/* readers', under hist_rlock */
static pthread_mutex_t hist_rlock = PTHREAD_MUTEX_INITIALIZER;
static atomic_ulong hist_drops;

static const char hist_schema[] =
	"PRAGMA journal_mode=WAL;"
	"CREATE TABLE IF NOT EXISTS history("
	" id INTEGER PRIMARY KEY, t REAL NOT NULL, qid TEXT, msgid TEXT, sender TEXT,"
	" hfrom TEXT, subject TEXT, nrcpt INTEGER, rcpts TEXT, ip TEXT, helo TEXT,"
	" size INTEGER, prob REAL, action TEXT, user TEXT, features TEXT, ms REAL,"
	" digest TEXT, hashes BLOB);"
	"CREATE INDEX IF NOT EXISTS history_digest ON history(digest);";

/* one record on its way to the writer */
/*
 * struct hist_top - the HISTORY_TOP strongest features of a scan, copied
 * (texts in one buffer) so that the JSON is built on the writer thread:
 * jansson took 35-95 us of a scan's time per message, more than the check
 * of a short message.
 */
struct hist_top {
	size_t n;
	struct bayes_feature f[HISTORY_TOP];
	char *texts;
};

struct hist_rec {
	double t;
	char *qid, *msgid, *sender, *hfrom, *subject, *rcpts, *ip, *helo, *user, *action;
	struct hist_top *top;	/* the deciding features, made JSON by the writer */
	unsigned nrcpt;
	size_t size;
	double prob, ms;
	char digest[33];
	uint64_t *hash;
	size_t nhash;
};

void history_configure(const struct bayesd_config *cfg)
{
	pthread_mutex_lock(&hist_lock);
	hist_set.on = cfg->history;
	hist_set.hash_addresses = cfg->history_hash_addresses;
	hist_set.size = cfg->history_size;
	snprintf(hist_set.www, sizeof(hist_set.www), "%s", cfg->www_dir ? cfg->www_dir : "");
	bool redis = cfg->history_store == HISTORY_STORE_REDIS ||
		     (cfg->history_store == HISTORY_STORE_AUTO && cfg->backend == BAYES_BACKEND_REDIS);
	if (!hist_set.configured) {
		struct bayes_options o = { 0 };

		snprintf(hist_set.path, sizeof(hist_set.path), "%s", cfg->history_database);
		hist_set.redis = redis;
		config_store_options(cfg, &o);
		history_redis_configure(&o.redis);
		hist_set.configured = true;
	} else if (strcmp(hist_set.path, cfg->history_database) != 0 || redis != hist_set.redis)
		log_notice("history_database or history_store changed: takes effect at restart");
	pthread_mutex_unlock(&hist_lock);
}

void history_www_dir(char *out, size_t outlen)
{
	pthread_mutex_lock(&hist_lock);
	snprintf(out, outlen, "%s", hist_set.www);
	pthread_mutex_unlock(&hist_lock);
}

/* hist_on_redis - whether the rows live on Redis (fixed at the first configure). */
static bool hist_on_redis(void)
{
	bool redis;

	pthread_mutex_lock(&hist_lock);
	redis = hist_set.redis;
	pthread_mutex_unlock(&hist_lock);
	return redis;
}

bool history_enabled(void)
{
	bool on;

	pthread_mutex_lock(&hist_lock);
	on = hist_set.on;
	pthread_mutex_unlock(&hist_lock);
	return on;
}

unsigned long history_dropped(void)
{
	return atomic_load(&hist_drops);
}

/* hist_dup - a copy of s cut at max bytes (NULL stays NULL). */
static char *hist_dup(const char *s, size_t max)
{
	size_t n;
	char *p;

	if (s == NULL)
		return NULL;
	n = strnlen(s, max);
	p = xmalloc(n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

/* hist_addr - an address as kept: plain, or hashed local part + "@domain". */
static char *hist_addr(const char *a, bool hash)
{
	char buf[320];
	const char *at;
	size_t n;

	if (a == NULL)
		return NULL;
	if (!hash)
		return hist_dup(a, 256);
	while (*a == '<')
		a++;
	at = strrchr(a, '@');
	n = at ? (size_t)(at - a) : strlen(a);
	char low[256];
	if (n >= sizeof(low))
		n = sizeof(low) - 1;
	for (size_t i = 0; i < n; i++)
		low[i] = (char)tolower((unsigned char)a[i]);
	snprintf(buf, sizeof(buf), "h:%016llx%s%.*s", (unsigned long long)XXH3_64bits(low, n),
		 at ? "@" : "", at ? (int)strcspn(at + 1, ">") : 0, at ? at + 1 : "");
	return xstrdup(buf);
}

static void hist_top_free(struct hist_top *top)
{
	if (top == NULL)
		return;
	free(top->texts);
	free(top);
}

static char *hist_features_json(const struct hist_top *top);
static int hist_push(struct hist_rec *r, unsigned size, struct writer_job *job);

static void hist_rec_free(struct hist_rec *r)
{
	free(r->qid); free(r->msgid); free(r->sender); free(r->hfrom); free(r->subject);
	free(r->rcpts); free(r->ip); free(r->helo); free(r->user); free(r->action);
	hist_top_free(r->top); free(r->hash);
	free(r);
}

/* hist_open - open (creating) the history file; NULL with a log line. */
static sqlite3 *hist_open(bool rw)
{
	char path[1024];
	sqlite3 *db = NULL;

	pthread_mutex_lock(&hist_lock);
	snprintf(path, sizeof(path), "%s", hist_set.path);
	pthread_mutex_unlock(&hist_lock);
	if (path[0] == '\0')
		return NULL;
	int flags = rw ? SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE : SQLITE_OPEN_READONLY;
	if (sqlite3_open_v2(path, &db, flags | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		log_warning("history: open(%s) failed: %s", path, db ? sqlite3_errmsg(db) : "no memory");
		sqlite3_close(db);
		return NULL;
	}
	sqlite3_busy_timeout(db, 2000);
	if (rw && sqlite3_exec(db, hist_schema, NULL, NULL, NULL) != SQLITE_OK) {
		log_warning("history: %s: %s", path, sqlite3_errmsg(db));
		sqlite3_close(db);
		return NULL;
	}
	if (rw)
		sqlite3_exec(db, "PRAGMA synchronous=NORMAL", NULL, NULL, NULL);
	return db;
}

/* hist_json_text - s as a JSON string (NULL: null; bytes that are not UTF-8 escaped). */
static json_t *hist_json_text(const char *s)
{
	json_t *j;

	if (s == NULL)
		return json_null();
	if ((j = json_string(s)) == NULL) {
		char esc[2048];
		j = json_string(escape_for_log(esc, sizeof(esc), s));
	}
	return j ? j : json_null();
}

/*
 * hist_push - the writer thread, history on Redis: the row as one JSON
 * object (the table's columns; the hashes go beside it) pushed onto the
 * capped list.
 */
static int hist_push(struct hist_rec *r, unsigned size, struct writer_job *job)
{
	char err[512];
	char *features = r->top ? hist_features_json(r->top) : NULL;
	json_t *o = json_pack("{s:f,s:o,s:o,s:o,s:o,s:o,s:I,s:o,s:o,s:o,s:I,s:f,s:o,s:o,s:o,s:f,s:s,s:I}",
		"t", r->t, "qid", hist_json_text(r->qid), "msgid", hist_json_text(r->msgid),
		"sender", hist_json_text(r->sender), "hfrom", hist_json_text(r->hfrom),
		"subject", hist_json_text(r->subject), "nrcpt", (json_int_t)r->nrcpt,
		"rcpts", hist_json_text(r->rcpts), "ip", hist_json_text(r->ip),
		"helo", hist_json_text(r->helo), "size", (json_int_t)r->size, "prob", r->prob,
		"action", hist_json_text(r->action), "user", hist_json_text(r->user),
		"features", hist_json_text(features), "ms", r->ms, "digest", r->digest,
		"nhash", (json_int_t)(r->hash ? r->nhash : 0));
	char *row = o ? json_dumps(o, JSON_COMPACT) : NULL;
	int rc = -1;

	if (row == NULL)
		log_warning("history: a row could not be made JSON");
	else if ((rc = history_redis_insert(row, r->hash, r->hash ? r->nhash : 0, size, err, sizeof(err))) < 0)
		log_warning("%s", err);
	free(row);
	json_decref(o);
	free(features);
	hist_rec_free(r);
	job->arg = NULL;
	return rc;
}

/* hist_insert - the writer thread: insert one row and trim the ring. */
static int hist_insert(struct bayes *db, struct writer_job *job)
{
	struct hist_rec *r = job->arg;
	sqlite3_stmt *st = NULL;
	unsigned size;
	int rc = -1;

	(void)db;
	pthread_mutex_lock(&hist_lock);
	size = hist_set.size;
	pthread_mutex_unlock(&hist_lock);
	if (hist_on_redis())
		return hist_push(r, size, job);
	if (hist_w == NULL && (hist_w = hist_open(true)) == NULL)
		goto out;
	if (sqlite3_prepare_v2(hist_w,
			       "INSERT INTO history(t,qid,msgid,sender,hfrom,subject,nrcpt,rcpts,ip,helo,"
			       "size,prob,action,user,features,ms,digest,hashes)"
			       " VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", -1, &st, NULL) != SQLITE_OK)
		goto fail;
	sqlite3_bind_double(st, 1, r->t);
	const char *txt[] = { r->qid, r->msgid, r->sender, r->hfrom, r->subject };
	for (int i = 0; i < 5; i++)
		sqlite3_bind_text(st, 2 + i, txt[i], -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 7, (int)r->nrcpt);
	sqlite3_bind_text(st, 8, r->rcpts, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 9, r->ip, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 10, r->helo, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 11, (sqlite3_int64)r->size);
	sqlite3_bind_double(st, 12, r->prob);
	sqlite3_bind_text(st, 13, r->action, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 14, r->user, -1, SQLITE_STATIC);
	char *features = r->top ? hist_features_json(r->top) : NULL;
	sqlite3_bind_text(st, 15, features, -1, free);
	sqlite3_bind_double(st, 16, r->ms);
	sqlite3_bind_text(st, 17, r->digest, -1, SQLITE_STATIC);
	if (r->hash)
		sqlite3_bind_blob(st, 18, r->hash, (int)(r->nhash * sizeof(uint64_t)), SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		goto fail;
	sqlite3_finalize(st);
	st = NULL;
	sqlite3_int64 last = sqlite3_last_insert_rowid(hist_w);
	if (last > (sqlite3_int64)size) {
		char sql[96];

		snprintf(sql, sizeof(sql), "DELETE FROM history WHERE id <= %lld", (long long)(last - size));
		if (sqlite3_exec(hist_w, sql, NULL, NULL, NULL) != SQLITE_OK)
			goto fail;
	}
	rc = 0;
	goto out;
fail:
	log_warning("history: insert failed: %s", sqlite3_errmsg(hist_w));
	sqlite3_finalize(st);
	sqlite3_close(hist_w);	/* reopened for the next row */
	hist_w = NULL;
out:
	hist_rec_free(r);
	job->arg = NULL;
	return rc;
}

/* hist_features_json - the top features as a JSON text (on the writer thread). */
static char *hist_features_json(const struct hist_top *top)
{
	json_t *arr = json_array();
	char *s;

	for (size_t i = 0; i < top->n; i++) {
		const struct bayes_feature *f = &top->f[i];
		char hex[17];

		snprintf(hex, sizeof(hex), "%016llx", (unsigned long long)f->hash);
		json_t *text = f->text ? json_string(f->text) : NULL;
		if (f->text && text == NULL) {	/* not UTF-8: escaped, never dropped */
			char esc[512];
			text = json_string(escape_for_log(esc, sizeof(esc), f->text));
		}
		json_array_append_new(arr, json_pack("{s:o,s:s,s:f,s:I,s:I}",
			"text", text ? text : json_null(), "hash", hex, "prob", f->prob,
			"spam", (json_int_t)f->spam, "ham", (json_int_t)f->ham));
	}
	s = json_dumps(arr, JSON_COMPACT);
	json_decref(arr);
	return s;
}

/* hist_top_copy - the strongest features of r, texts included. */
static struct hist_top *hist_top_copy(const struct bayes_result *r)
{
	struct hist_top *top = xcalloc(1, sizeof(*top));
	size_t len = 0, off = 0;

	top->n = r->ntop < HISTORY_TOP ? r->ntop : HISTORY_TOP;
	for (size_t i = 0; i < top->n; i++)
		len += r->top[i].text ? strlen(r->top[i].text) + 1 : 0;
	top->texts = len ? xmalloc(len) : NULL;
	for (size_t i = 0; i < top->n; i++) {
		top->f[i] = r->top[i];
		if (r->top[i].text) {
			size_t l = strlen(r->top[i].text) + 1;

			memcpy(top->texts + off, r->top[i].text, l);
			top->f[i].text = top->texts + off;
			off += l;
		}
	}
	return top;
}

struct history_snap {
	struct hist_top *top;
	uint64_t *hash;
	size_t nhash;
};

struct history_snap *history_snap(struct bayes *b, const struct bayes_result *r,
				  const struct bayes_msg_meta *meta)
{
	struct history_snap *s;
	const uint64_t *h;
	size_t nh;

	if (!history_enabled())
		return NULL;
	s = xcalloc(1, sizeof(*s));
	s->top = hist_top_copy(r);
	nh = bayes_last_features(b, &h);
	if (nh > 0 && nh <= HISTORY_MAX_HASHES) {
		s->hash = xmalloc(nh * sizeof(uint64_t));
		memcpy(s->hash, h, nh * sizeof(uint64_t));
		s->nhash = nh;
		/* take out what meta added (both sorted): a learn has no meta */
		uint64_t *mh = NULL;
		size_t nm = meta && (meta->client_ip || meta->helo) ? bayes_meta_features(b, meta, &mh) : 0;
		size_t o = 0, j = 0;
		for (size_t i = 0; i < nh && nm > 0; i++) {
			while (j < nm && mh[j] < s->hash[i])
				j++;
			if (j < nm && mh[j] == s->hash[i])
				continue;
			s->hash[o++] = s->hash[i];
		}
		if (nm > 0)
			s->nhash = o;
		free(mh);
	}
	return s;
}

void history_snap_free(struct history_snap **sp)
{
	if (*sp == NULL)
		return;
	hist_top_free((*sp)->top);
	free((*sp)->hash);
	free(*sp);
	*sp = NULL;
}

void history_capture(struct writer *w, struct history_snap **snap,
		     const unsigned char *data, size_t size, const struct history_msg *m)
{
	struct hist_rec *rec;
	struct writer_job *job;
	struct timespec ts;
	bool hash;
	uint8_t dg[16];

	if (w == NULL || *snap == NULL) {
		history_snap_free(snap);
		return;
	}
	pthread_mutex_lock(&hist_lock);
	hash = hist_set.hash_addresses;
	pthread_mutex_unlock(&hist_lock);

	rec = xcalloc(1, sizeof(*rec));
	clock_gettime(CLOCK_REALTIME, &ts);
	rec->t = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
	rec->qid = hist_dup(m->qid, 64);
	rec->msgid = hist_dup(m->msgid, 512);
	rec->sender = hist_addr(m->sender, hash);
	rec->hfrom = hash ? hist_addr(m->hfrom, true) : hist_dup(m->hfrom, 512);
	rec->subject = hist_dup(m->subject, 512);
	rec->ip = hist_dup(m->ip, 64);
	rec->helo = hist_dup(m->helo, 256);
	rec->user = hist_dup(m->user, 256);
	rec->action = hist_dup(m->action, 32);
	rec->nrcpt = m->nrcpt;
	rec->size = m->size;
	rec->prob = m->prob;
	rec->ms = m->ms;
	{
		struct buf rb;

		buf_init(&rb);

		for (size_t i = 0; i < m->nrcpts_kept; i++) {
			char *a = hist_addr(m->rcpts[i], hash);
			if (a == NULL)
				continue;
			if (rb.len)
				buf_append(&rb, ",", 1);
			buf_append(&rb, a, strlen(a));
			free(a);
		}
		rec->rcpts = rb.len ? hist_dup(rb.data, rb.len) : NULL;
		buf_free(&rb);
	}
	rec->top = (*snap)->top;
	rec->hash = (*snap)->hash;
	rec->nhash = (*snap)->nhash;
	(*snap)->top = NULL;
	(*snap)->hash = NULL;
	history_snap_free(snap);
	bayes_digest(data, size, dg);
	for (int i = 0; i < 16; i++)
		snprintf(rec->digest + 2 * i, 3, "%02x", dg[i]);

	job = xcalloc(1, sizeof(*job));
	job->call = hist_insert;
	job->arg = rec;
	job->needs_db = false;
	if (writer_post_call(w, job) < 0) {
		hist_rec_free(rec);
		atomic_fetch_add(&hist_drops, 1);
	}
}

/* hist_reader - the readers' connection, opened on first use; hist_rlock held. */
static sqlite3 *hist_reader(char *err, size_t errlen)
{
	if (hist_on_redis())
		return history_redis_reader(err, errlen);
	if (hist_r == NULL) {
		/* create the file if the writer has not yet, so an empty history reads as empty */
		sqlite3 *w = hist_open(true);
		sqlite3_close(w);
		hist_r = hist_open(false);
	}
	if (hist_r == NULL)
		snprintf(err, errlen, "the history database cannot be opened");
	return hist_r;
}

/* hist_row_json - the current row of st (the columns of HIST_COLS) as JSON. */
#define HIST_COLS "id,t,qid,msgid,sender,hfrom,subject,nrcpt,rcpts,ip,helo,size,prob,action,user,ms,digest," \
	"length(hashes)/8,features"
static json_t *hist_text(sqlite3_stmt *st, int col)
{
	return hist_json_text((const char *)sqlite3_column_text(st, col));
}

static json_t *hist_row_json(sqlite3_stmt *st, bool features)
{
	static const char *names[] = { "id", "time", "qid", "message_id", "sender", "from", "subject",
				       "recipients_count", "recipients", "ip", "helo", "size", "prob",
				       "action", "user", "scan_ms", "digest", "learnable" };
	json_t *o = json_object();

	for (int i = 0; i < 18; i++) {
		json_t *v;

		switch (i) {
		case 0: case 7: case 11:
			v = json_integer(sqlite3_column_int64(st, i));
			break;
		case 1: case 12: case 15:
			v = json_real(sqlite3_column_double(st, i));
			break;
		case 17:
			v = json_boolean(sqlite3_column_int64(st, i) > 0);
			break;
		default:
			v = hist_text(st, i);
		}
		json_object_set_new(o, names[i], v);
	}
	if (features) {
		const char *f = (const char *)sqlite3_column_text(st, 18);
		json_t *fj = f ? json_loads(f, 0, NULL) : NULL;
		json_object_set_new(o, "features", fj ? fj : json_array());
	}
	return o;
}

json_t *history_list(const struct history_filter *f, char *err, size_t errlen)
{
	char sql[1024];
	sqlite3_stmt *st = NULL;
	sqlite3 *db;
	json_t *rows, *out = NULL;
	unsigned limit = f->limit ? f->limit : 50;
	int n = 1;

	if (limit > HISTORY_PAGE_MAX)
		limit = HISTORY_PAGE_MAX;
	snprintf(sql, sizeof(sql), "SELECT " HIST_COLS " FROM history WHERE prob >= ?1 AND prob <= ?2"
		 "%s%s%s%s%s ORDER BY id DESC LIMIT ?8",
		 f->action ? " AND action = ?3" : "",
		 f->sender ? " AND instr(lower(sender), lower(?4)) > 0" : "",
		 f->rcpt ? " AND instr(lower(rcpts), lower(?5)) > 0" : "",
		 f->text ? " AND (instr(lower(coalesce(subject,'')||' '||coalesce(hfrom,'')||' '||"
			   "coalesce(msgid,'')||' '||coalesce(sender,'')||' '||coalesce(qid,'')), lower(?6)) > 0)" : "",
		 f->before_id > 0 ? " AND id < ?7" : "");
	pthread_mutex_lock(&hist_rlock);
	if ((db = hist_reader(err, errlen)) == NULL)
		goto out;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		goto fail;
	sqlite3_bind_double(st, 1, f->min_prob);
	sqlite3_bind_double(st, 2, f->max_prob);
	if (f->action)
		sqlite3_bind_text(st, 3, f->action, -1, SQLITE_STATIC);
	if (f->sender)
		sqlite3_bind_text(st, 4, f->sender, -1, SQLITE_STATIC);
	if (f->rcpt)
		sqlite3_bind_text(st, 5, f->rcpt, -1, SQLITE_STATIC);
	if (f->text)
		sqlite3_bind_text(st, 6, f->text, -1, SQLITE_STATIC);
	if (f->before_id > 0)
		sqlite3_bind_int64(st, 7, f->before_id);
	sqlite3_bind_int(st, 8, (int)limit);
	rows = json_array();
	while ((n = sqlite3_step(st)) == SQLITE_ROW)
		json_array_append_new(rows, hist_row_json(st, false));
	if (n != SQLITE_DONE) {
		json_decref(rows);
		goto fail;
	}
	sqlite3_finalize(st);
	st = NULL;
	json_int_t total = 0;
	if (sqlite3_prepare_v2(db, "SELECT count(*) FROM history", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		total = sqlite3_column_int64(st, 0);
	pthread_mutex_lock(&hist_lock);
	unsigned size = hist_set.size;
	pthread_mutex_unlock(&hist_lock);
	out = json_pack("{s:o,s:I,s:I,s:I}", "rows", rows, "total", total, "size", (json_int_t)size,
			"dropped", (json_int_t)history_dropped());
	goto out;
fail:
	snprintf(err, errlen, "history: %s", sqlite3_errmsg(db));
out:
	sqlite3_finalize(st);
	pthread_mutex_unlock(&hist_rlock);
	return out;
}

json_t *history_get(int64_t id, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	sqlite3 *db;
	json_t *out = NULL;
	int rc;

	err[0] = '\0';
	pthread_mutex_lock(&hist_rlock);
	if ((db = hist_reader(err, errlen)) == NULL)
		goto out;
	if (sqlite3_prepare_v2(db, "SELECT " HIST_COLS " FROM history WHERE id = ?", -1, &st, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "history: %s", sqlite3_errmsg(db));
		goto out;
	}
	sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		out = hist_row_json(st, true);
	else if (rc != SQLITE_DONE)
		snprintf(err, errlen, "history: %s", sqlite3_errmsg(db));
out:
	sqlite3_finalize(st);
	pthread_mutex_unlock(&hist_rlock);
	return out;
}

static int by_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* hist_period - counts per hour by action, histogram and ms percentiles since t0. */
static json_t *hist_period(sqlite3 *db, double now, unsigned hours)
{
	static const char *actions[] = { "accept", "flag", "quarantine", "reject", "tempfail", "none" };
	double t0 = now - hours * 3600.0;
	json_t *per = json_object(), *hist = json_array();
	json_int_t bins[20] = { 0 };
	double *ms = NULL;
	size_t nms = 0, cap = 0;
	sqlite3_stmt *st = NULL;

	for (size_t a = 0; a < ARRAY_SIZE(actions); a++) {
		json_t *arr = json_array();
		for (unsigned h = 0; h < hours; h++)
			json_array_append_new(arr, json_integer(0));
		json_object_set_new(per, actions[a], arr);
	}
	if (sqlite3_prepare_v2(db, "SELECT t, action, prob, ms FROM history WHERE t >= ?", -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_double(st, 1, t0);
		while (sqlite3_step(st) == SQLITE_ROW) {
			double t = sqlite3_column_double(st, 0);
			const char *act = (const char *)sqlite3_column_text(st, 1);
			double p = sqlite3_column_double(st, 2);
			unsigned h = (unsigned)((t - t0) / 3600.0);
			json_t *arr = act ? json_object_get(per, act) : NULL;

			if (h >= hours)
				h = hours - 1;
			if (arr)
				json_array_set_new(arr, h, json_integer(json_integer_value(json_array_get(arr, h)) + 1));
			int bin = (int)(p * 20);
			bins[bin < 0 ? 0 : bin > 19 ? 19 : bin]++;
			if (nms == cap) {
				cap = cap ? 2 * cap : 256;
				ms = xrealloc(ms, cap * sizeof(*ms));
			}
			ms[nms++] = sqlite3_column_double(st, 3);
		}
	}
	sqlite3_finalize(st);
	for (int i = 0; i < 20; i++)
		json_array_append_new(hist, json_integer(bins[i]));
	double p50 = 0, p99 = 0;
	if (nms) {
		qsort(ms, nms, sizeof(*ms), by_double);
		p50 = ms[(nms - 1) / 2];
		size_t k = (size_t)((double)nms * 0.99 + 0.999999);	/* nearest rank */
		p99 = ms[k > 0 ? k - 1 : 0];
	}
	free(ms);
	return json_pack("{s:f,s:I,s:o,s:o,s:I,s:f,s:f}", "start", t0, "hours", (json_int_t)hours,
			 "per_hour", per, "score_histogram", hist, "messages", (json_int_t)nms,
			 "scan_ms_p50", p50, "scan_ms_p99", p99);
}

json_t *history_graph(char *err, size_t errlen)
{
	sqlite3 *db;
	json_t *out = NULL;
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	pthread_mutex_lock(&hist_rlock);
	if ((db = hist_reader(err, errlen)) != NULL)
		out = json_pack("{s:o,s:o}", "day", hist_period(db, (double)ts.tv_sec, 24),
				"week", hist_period(db, (double)ts.tv_sec, 24 * 7));
	pthread_mutex_unlock(&hist_rlock);
	return out;
}

int history_features(const char *hex, uint8_t digest[16], char *user, size_t userlen,
		     uint64_t **hash_r, size_t *n_r, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	sqlite3 *db;
	int rc = -1;

	*hash_r = NULL;
	*n_r = 0;
	if (strlen(hex) != 32 || strspn(hex, "0123456789abcdef") != 32) {
		snprintf(err, errlen, "digest: 32 lower-case hex digits");
		return 0;
	}
	for (int i = 0; i < 16; i++) {
		unsigned v;
		sscanf(hex + 2 * i, "%2x", &v);
		digest[i] = (uint8_t)v;
	}
	pthread_mutex_lock(&hist_rlock);
	if ((db = hist_reader(err, errlen)) == NULL)
		goto out;
	if (sqlite3_prepare_v2(db, "SELECT user, hashes, id FROM history WHERE digest = ? AND hashes IS NOT NULL"
			       " ORDER BY id DESC LIMIT 1", -1, &st, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "history: %s", sqlite3_errmsg(db));
		goto out;
	}
	sqlite3_bind_text(st, 1, hex, -1, SQLITE_STATIC);
	int s = sqlite3_step(st);
	if (s == SQLITE_DONE) {
		snprintf(err, errlen, "no history row with that digest (or its features were not kept)");
		rc = 0;
		goto out;
	}
	if (s != SQLITE_ROW) {
		snprintf(err, errlen, "history: %s", sqlite3_errmsg(db));
		goto out;
	}
	const char *u = (const char *)sqlite3_column_text(st, 0);
	snprintf(user, userlen, "%s", u ? u : "");
	if (hist_on_redis()) {	/* the row's hashes are beside the list */
		rc = history_redis_hashes(sqlite3_column_int64(st, 2), hash_r, n_r, err, errlen);
		goto out;
	}
	size_t bytes = (size_t)sqlite3_column_bytes(st, 1);
	const void *blob = sqlite3_column_blob(st, 1);
	*n_r = bytes / sizeof(uint64_t);
	*hash_r = xmalloc(bytes ? bytes : 1);
	if (blob)
		memcpy(*hash_r, blob, *n_r * sizeof(uint64_t));
	rc = 1;
out:
	sqlite3_finalize(st);
	pthread_mutex_unlock(&hist_rlock);
	return rc;
}

void history_close(void)
{
	pthread_mutex_lock(&hist_rlock);
	sqlite3_close(hist_r);
	hist_r = NULL;
	history_redis_close();
	pthread_mutex_unlock(&hist_rlock);
	sqlite3_close(hist_w);	/* the writer has stopped */
	hist_w = NULL;
	pthread_mutex_lock(&hist_lock);
	hist_set.configured = false;	/* the next history_configure() starts anew */
	pthread_mutex_unlock(&hist_lock);
}
