/*
 * test_milter.c - the milter callbacks driven without an MTA (milter_io):
 * per-user scoring of a single recipient and autolearn through a real
 * writer thread, on a database in the test directory.
 *
 * The callbacks, the writer, the history and the metrics come from
 * milter/libbayesd.a; the engine options a config asks for from
 * milter_internal.h.
 */
#include "autolearn.h"
#include "bayes.h"
#include "config.h"
#include "harness.h"
#include "history.h"
#include "log.h"
#include "metrics.h"
#include "milter.h"
#include "milter_internal.h"
#include "redis_server.h"
#include "util.h"
#include "verdict.h"
#include "writer.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

static void *tm_priv;
static const char *tm_auth;	/* {auth_authen}, or NULL */

static void *tm_getpriv(SMFICTX *ctx) { return tm_priv; }
static int tm_setpriv(SMFICTX *ctx, void *p) { tm_priv = p; return MI_SUCCESS; }
static char *tm_getsymval(SMFICTX *ctx, char *name)
{
	if (strcmp(name, "{auth_authen}") == 0)
		return (char *)tm_auth;
	if (strcmp(name, "i") == 0)
		return (char *)"TESTQID";
	return NULL;
}
static char tm_status[256];	/* the last X-Spam-Status added */
static char tm_detail[256];	/* the last X-Spam-Bayesd added */
static char tm_hlog[4096];	/* every header change of a message, one a line */

/* tm_hlog_add - note one header change (a line) in tm_hlog */
static void tm_hlog_add(const char *line)
{
	size_t l = strlen(tm_hlog);

	snprintf(tm_hlog + l, sizeof(tm_hlog) - l, "%s\n", line);
}
static int tm_addheader(SMFICTX *ctx, char *n, char *v)
{
	char line[512];

	snprintf(line, sizeof(line), "add %s: %s", n, v);
	tm_hlog_add(line);
	if (strcmp(n, "X-Spam-Status") == 0)
		snprintf(tm_status, sizeof(tm_status), "%s", v);
	else if (strcmp(n, "X-Spam-Bayesd") == 0)
		snprintf(tm_detail, sizeof(tm_detail), "%s", v);
	return MI_SUCCESS;
}
static int tm_rejects;		/* 550 replies set */
static int tm_chgheader(SMFICTX *ctx, char *n, int i, char *v)
{
	char line[512];

	snprintf(line, sizeof(line), "chg %s #%d: %s", n, i, v ? v : "(removed)");
	tm_hlog_add(line);
	return MI_SUCCESS;
}
static int tm_setreply(SMFICTX *ctx, char *r, char *x, char *m)
{
	tm_rejects += r[0] == '5';
	return MI_SUCCESS;
}
static int tm_quarantines;
static int tm_quarantine(SMFICTX *ctx, char *r)
{
	tm_quarantines++;
	return MI_SUCCESS;
}

static const struct milter_io tm_io = {
	tm_getpriv, tm_setpriv, tm_getsymval, tm_addheader, tm_chgheader, tm_setreply, tm_quarantine,
	NULL,	/* setsymlist: the callbacks cope without */
};

/* tm_message - one SMTP transaction through the callbacks: rcpts NULL-terminated */
static const char *tm_client = "192.0.2.7";	/* the SMTP client's address */
static unsigned tm_port = 25000;		/* and its port (0: Postfix's pickup) */
static const char *const *tm_extra;	/* more headers: name, value, ..., NULL */
static void tm_message(const char *const *rcpts, const char *subject, const char *body)
{
	const struct smfiDesc *d = milter_callbacks();
	SMFICTX *ctx = (SMFICTX *)&tm_priv;	/* never dereferenced by our io */
	struct sockaddr_in sin = { .sin_family = AF_INET };
	char *from[] = { (char *)"<sender@example.net>", NULL };

	tm_status[0] = tm_detail[0] = tm_hlog[0] = '\0';
	inet_pton(AF_INET, tm_client, &sin.sin_addr);
	sin.sin_port = htons((uint16_t)tm_port);
	d->xxfi_connect(ctx, (char *)"client.example.net", (struct sockaddr *)&sin);
	d->xxfi_envfrom(ctx, from);
	for (; *rcpts; rcpts++) {
		char *rcpt[] = { (char *)*rcpts, NULL };
		d->xxfi_envrcpt(ctx, rcpt);
	}
	for (const char *const *h = tm_extra; h && h[0]; h += 2)
		d->xxfi_header(ctx, (char *)h[0], (char *)h[1]);
	d->xxfi_header(ctx, (char *)"From", (char *)"sender@example.net");
	d->xxfi_header(ctx, (char *)"Subject", (char *)subject);
	d->xxfi_eoh(ctx);
	d->xxfi_body(ctx, (unsigned char *)body, strlen(body));
	d->xxfi_eom(ctx);
	d->xxfi_close(ctx);
}

/* tm_learned - messages user has learned as spam + ham (-1 on error) */
static long tm_learned(const char *db, const char *user)
{
	char err[600];
	struct bayes_stats st;
	struct bayes *b = bayes_open(db, BAYES_OPEN_RDONLY, NULL, err, sizeof(err), NULL);
	long n = -1;

	if (b && bayes_stats(b, user, &st) == 0)
		n = (long)(st.learned_spam + st.learned_ham);
	bayes_close(&b);
	return n;
}

TEST(milter_per_user_autolearn)
{
	static const char *const one[] = { "<Joe+lists@Example.ORG>", NULL };
	static const char *const two[] = { "<joe@example.org>", "<ann@example.org>", NULL };
	char db[400], path[400], err[600];
	struct bayesd_config *cfg;
	FILE *f;
	struct writer *w;
	struct bayes_options o;

	snprintf(db, sizeof(db), "%s/milter.db", test_tmpdir());
	/* autolearn everything the milter scores: spam at >= 0.5, ham at <= 0.5 */
	snprintf(path, sizeof(path), "%s/milter.conf", test_tmpdir());
	f = fopen(path, "w");
	REQUIRE(f != NULL);
	fprintf(f, "database = %s\nper_user = yes\nautolearn = yes\n"
		"autolearn_spam_threshold = 0.5\nautolearn_ham_threshold = 0.5\n"
		"score_authenticated = yes\ncache_max_tokens = 0\nmin_learns = 0\n", db);
	fclose(f);
	cfg = config_load(path, err, sizeof(err));
	if (!cfg)
		fprintf(stderr, "  %s\n", err);
	REQUIRE(cfg != NULL);
	milter_engine_options(cfg, &o);
	o.train_mode = BAYES_TRAIN_ALL;
	w = writer_start(db, &o, 0, err, sizeof(err));
	REQUIRE(w != NULL);
	config_current_set(cfg);
	milter_reload();
	milter_io_set(&tm_io);
	milter_writer_set(w);

	/* one recipient: scored and autolearned as its user */
	tm_message(one, "cheap pills", "Buy cheap pills now.\r\n");
	/* two recipients: global */
	tm_message(two, "meeting", "The meeting moves to Tuesday.\r\n");
	/* an authenticated sender is scored (score_authenticated) but never autolearned */
	tm_auth = "alice";
	tm_message(one, "from alice", "Lunch tomorrow? Alice.\r\n");
	tm_auth = NULL;

	milter_writer_set(NULL);
	writer_stop(&w);	/* runs every posted job first */
	CHECK(tm_learned(db, "joe@example.org") == 1);
	CHECK(tm_learned(db, "ann@example.org") == 0);
	/* global: joe's learn (per_user_global) and the two-recipient message */
	CHECK(tm_learned(db, NULL) == 2);
	/* the metrics say so: two autolearned as spam (p = 0.5), one skipped for the login */
	struct buf m = { 0 };
	metrics_render(&m);
	CHECK(strstr(m.data, "\nbayesd_autolearn_total{class=\"spam\"} 2\n") != NULL);
	CHECK(strstr(m.data, "\nbayesd_autolearn_total{class=\"ham\"} 0\n") != NULL);
	CHECK(strstr(m.data, "\nbayesd_autolearn_skipped_total{reason=\"authenticated\"} 1\n") != NULL);
	CHECK(strstr(m.data, "\nbayesd_autolearn_skipped_total{reason=\"trusted\"} 0\n") != NULL);
	CHECK(strstr(m.data, "# TYPE bayesd_autolearn_total counter\n") != NULL);
	buf_free(&m);

	milter_io_set(NULL);
	milter_shutdown();
	config_current_set(NULL);
	config_unref(&cfg);
}


/* tm_redis_int - the integer reply of a command line (words) to the test's Redis, -1 on failure */
static long long tm_redis_int(int port, const char *line)
{
	char copy[256], *argv[8], *save = NULL;
	int argc = 0;

	snprintf(copy, sizeof(copy), "%s", line);
	for (char *w = strtok_r(copy, " ", &save); w && argc < 8; w = strtok_r(NULL, " ", &save))
		argv[argc++] = w;
	redisContext *c = redisConnect("127.0.0.1", port);
	redisReply *r = c && !c->err ? redisCommandArgv(c, argc, (const char **)argv, NULL) : NULL;
	long long v = r && r->type == REDIS_REPLY_INTEGER ? r->integer : -1;

	if (r)
		freeReplyObject(r);
	if (c)
		redisFree(c);
	return v;
}

/*
 * tm_history_redis_more - after the first read: the list and the hashes
 * beside it hold history_size rows; three more messages reach the
 * reader's copy (an update, not a reload) and push the oldest out of
 * both; rows numbered anew after the keys are deleted start the copy
 * afresh, whether their ids are below the copy's newest or reach it.
 */
static void tm_history_redis_more(int port, const char *const *one, const struct bayesd_config *cfg)
{
	struct history_filter hf = { .min_prob = 0, .max_prob = 1 };
	struct bayes_options o;
	char err[600];
	struct writer *w;
	json_t *l;

	CHECK(tm_redis_int(port, "LLEN mhr:history") == 10);
	CHECK(tm_redis_int(port, "HLEN mhr:history:hashes") == 10);
	milter_engine_options(cfg, &o);
	w = writer_start(cfg->database, &o, 0, err, sizeof(err));
	REQUIRE(w != NULL);
	milter_writer_set(w);
	for (int i = 0; i < 3; i++)
		tm_message(one, "later", "Later.\r\n");
	milter_writer_set(NULL);
	writer_stop(&w);
	REQUIRE((l = history_list(&hf, err, sizeof(err))) != NULL);
	CHECK(json_integer_value(json_object_get(l, "total")) == 10);
	json_t *rows = json_object_get(l, "rows");
	CHECK(json_integer_value(json_object_get(json_array_get(rows, 0), "id")) == 15);
	CHECK(json_integer_value(json_object_get(json_array_get(rows, 9), "id")) == 6);
	CHECK(strcmp(json_string_value(json_object_get(json_array_get(rows, 0), "subject")), "later") == 0);
	json_decref(l);
	CHECK(tm_redis_int(port, "HLEN mhr:history:hashes") == 10);
	CHECK(tm_redis_int(port, "HEXISTS mhr:history:hashes 5") == 0);
	CHECK(tm_redis_int(port, "HEXISTS mhr:history:hashes 6") == 1);

	/* the keys deleted (FLUSHDB, a new Redis): the copy follows the new list */
	CHECK(tm_redis_int(port, "DEL mhr:history mhr:history:id mhr:history:hashes") == 3);
	w = writer_start(cfg->database, &o, 0, err, sizeof(err));
	REQUIRE(w != NULL);
	milter_writer_set(w);
	tm_message(one, "anew", "Anew.\r\n");
	milter_writer_set(NULL);
	writer_stop(&w);
	REQUIRE((l = history_list(&hf, err, sizeof(err))) != NULL);
	CHECK(json_integer_value(json_object_get(l, "total")) == 1);
	rows = json_object_get(l, "rows");
	CHECK(json_integer_value(json_object_get(json_array_get(rows, 0), "id")) == 1);
	json_decref(l);
	/* and once more, now numbered past the copy's newest (1): row 1 is another row */
	CHECK(tm_redis_int(port, "DEL mhr:history mhr:history:id mhr:history:hashes") == 3);
	w = writer_start(cfg->database, &o, 0, err, sizeof(err));
	REQUIRE(w != NULL);
	milter_writer_set(w);
	tm_message(one, "again1", "Again.\r\n");
	tm_message(one, "again2", "Again.\r\n");
	milter_writer_set(NULL);
	writer_stop(&w);
	REQUIRE((l = history_list(&hf, err, sizeof(err))) != NULL);
	rows = json_object_get(l, "rows");
	CHECK(json_integer_value(json_object_get(l, "total")) == 2);
	CHECK(strcmp(json_string_value(json_object_get(json_array_get(rows, 1), "subject")), "again1") == 0);
	json_decref(l);
}

/*
 * The scan history through the real callbacks and writer: a ring of
 * history_size rows (12 messages, 10 kept), hashed addresses, the digest and features kept, and
 * a learn by digest from a row that moves the counts like a learn.
 */
static void tm_history(int redis_port)
{
	static const char *const one[] = { "<Joe@Example.ORG>", NULL };
	char db[400], hdb[400], path[400], err[600];
	const char *tag = redis_port ? "mhr" : "mh";
	struct bayesd_config *cfg;
	struct bayes_options o;
	struct writer *w;
	FILE *f;

	snprintf(db, sizeof(db), "%s/%s.db", test_tmpdir(), tag);
	snprintf(hdb, sizeof(hdb), "%s/%s-history.db", test_tmpdir(), tag);
	snprintf(path, sizeof(path), "%s/%s.conf", test_tmpdir(), tag);
	f = fopen(path, "w");
	REQUIRE(f != NULL);
	fprintf(f, "database = %s\nhistory_database = %s\nhistory_size = 10\nhistory_addresses = hash\n"
		"cache_max_tokens = 0\n", db, hdb);
	if (redis_port)	/* the statistics stay in SQLite: only the history moves */
		fprintf(f, "history_store = redis\nredis_servers = 127.0.0.1:%d\nredis_prefix = mhr:\n",
			redis_port);
	fclose(f);
	cfg = config_load(path, err, sizeof(err));
	REQUIRE(cfg != NULL);
	milter_engine_options(cfg, &o);
	{	/* one spam and one ham learned, so that a row has deciding features */
		static const char sp[] = "From: a@example.com\r\nSubject: offer\r\n\r\nBuy pills today.\r\n";
		static const char hm[] = "From: b@example.com\r\nSubject: lunch\r\n\r\nLunch at noon?\r\n";
		enum bayes_learn_outcome lo;
		struct bayes *pre = bayes_open(db, BAYES_OPEN_CREATE, &o, err, sizeof(err), NULL);

		REQUIRE(pre != NULL);
		CHECK(bayes_learn(pre, NULL, BAYES_SPAM, (const unsigned char *)sp, sizeof(sp) - 1, &lo) == 0);
		CHECK(bayes_learn(pre, NULL, BAYES_HAM, (const unsigned char *)hm, sizeof(hm) - 1, &lo) == 0);
		bayes_close(&pre);
	}
	w = writer_start(db, &o, 0, err, sizeof(err));
	REQUIRE(w != NULL);
	config_current_set(cfg);
	milter_reload();
	history_configure(cfg);
	milter_io_set(&tm_io);
	milter_writer_set(w);
	for (int i = 0; i < 11; i++)	/* one more than the ring holds */
		tm_message(one, "filler", "One.\r\n");
	tm_message(one, "<b>third</b>", "Three, cheap pills.\r\n");
	milter_writer_set(NULL);
	writer_stop(&w);	/* every row is in */

	struct history_filter hf = { .min_prob = 0, .max_prob = 1 };
	json_t *l = history_list(&hf, err, sizeof(err));
	REQUIRE(l != NULL);
	CHECK(json_integer_value(json_object_get(l, "total")) == 10);	/* the ring */
	json_t *r = json_array_get(json_object_get(l, "rows"), 0);
	REQUIRE(r != NULL);
	CHECK(strcmp(json_string_value(json_object_get(r, "subject")), "<b>third</b>") == 0);
	CHECK(strcmp(json_string_value(json_object_get(r, "qid")), "TESTQID") == 0);
	CHECK(strcmp(json_string_value(json_object_get(r, "ip")), "192.0.2.7") == 0);
	const char *snd = json_string_value(json_object_get(r, "sender"));
	const char *rc = json_string_value(json_object_get(r, "recipients"));
	CHECK(snd && strncmp(snd, "h:", 2) == 0 && strstr(snd, "@example.net") && !strstr(snd, "sender"));
	CHECK(rc && strncmp(rc, "h:", 2) == 0 && strstr(rc, "@Example.ORG") && !strstr(rc, "Joe"));
	CHECK(json_is_true(json_object_get(r, "learnable")));
	CHECK(json_integer_value(json_object_get(r, "id")) == 12);
	/* the row's deciding features, made JSON by the writer, with their texts and counts */
	json_t *one_row = history_get(12, err, sizeof(err));
	REQUIRE(one_row != NULL);
	json_t *feats = json_object_get(one_row, "features");
	CHECK(json_array_size(feats) > 0 && json_array_size(feats) <= HISTORY_TOP);
	bool named = false;
	for (size_t i = 0; i < json_array_size(feats); i++) {
		const char *ft = json_string_value(json_object_get(json_array_get(feats, i), "text"));
		named |= ft != NULL && strcmp(ft, "pills") == 0;
		CHECK(strlen(json_string_value(json_object_get(json_array_get(feats, i), "hash"))) == 16);
	}
	CHECK(named);	/* "pills" only ever came with this message: it must be among them */
	json_decref(one_row);

	/* learn it as ham by digest: the row's features, the memory of learns */
	char dg[33], user[64];
	uint8_t digest[16];
	uint64_t *hash;
	size_t n;
	snprintf(dg, sizeof(dg), "%s", json_string_value(json_object_get(r, "digest")));
	CHECK(history_features(dg, digest, user, sizeof(user), &hash, &n, err, sizeof(err)) == 1);
	CHECK(n > 10);
	struct bayes *b = bayes_open(db, BAYES_OPEN_CREATE, &o, err, sizeof(err), NULL);
	REQUIRE(b != NULL);
	enum bayes_learn_outcome out;
	CHECK(bayes_learn_features(b, NULL, BAYES_HAM, false, digest, hash, n, &out) == 0 && out == BAYES_LEARNED);
	CHECK(bayes_learn_features(b, NULL, BAYES_HAM, false, digest, hash, n, &out) == 0 && out == BAYES_ALREADY);
	CHECK(bayes_learn_features(b, NULL, BAYES_SPAM, false, digest, hash, n, &out) == 0 && out == BAYES_RELEARNED);
	struct bayes_stats st;
	/* with the one spam and one ham learned first */
	CHECK(bayes_stats(b, NULL, &st) == 0 && st.learned_spam == 2 && st.learned_ham == 1);
	CHECK(bayes_learn_features(b, NULL, BAYES_SPAM, true, digest, hash, n, &out) == 0 && out == BAYES_FORGOTTEN);
	CHECK(bayes_stats(b, NULL, &st) == 0 && st.learned_spam == 1 && st.learned_ham == 1);
	bayes_close(&b);

	/*
	 * The same learn: by digest into one database, of the message itself
	 * (the bytes the milter scanned) into another, give the same dump.
	 */
	static const char msg[] = "From: sender@example.net\r\nSubject: <b>third</b>\r\n\r\n"
				  "Three, cheap pills.\r\n";
	uint8_t mdg[16];
	bayes_digest((const unsigned char *)msg, sizeof(msg) - 1, mdg);
	CHECK(memcmp(mdg, digest, 16) == 0);
	char dba[400], dbb[400];
	snprintf(dba, sizeof(dba), "%s/%s-a.db", test_tmpdir(), tag);
	snprintf(dbb, sizeof(dbb), "%s/%s-b.db", test_tmpdir(), tag);
	struct bayes *ba = bayes_open(dba, BAYES_OPEN_CREATE, &o, err, sizeof(err), NULL);
	struct bayes *bb = bayes_open(dbb, BAYES_OPEN_CREATE, &o, err, sizeof(err), NULL);
	REQUIRE(ba != NULL && bb != NULL);
	CHECK(bayes_learn_features(ba, NULL, BAYES_HAM, false, digest, hash, n, &out) == 0 && out == BAYES_LEARNED);
	CHECK(bayes_learn(bb, NULL, BAYES_HAM, (const unsigned char *)msg, sizeof(msg) - 1, &out) == 0 &&
	      out == BAYES_LEARNED);
	char *da = NULL, *dbuf = NULL;
	size_t la = 0, lb = 0;
	FILE *fa = open_memstream(&da, &la), *fb = open_memstream(&dbuf, &lb);
	CHECK(bayes_dump(ba, fa) == 0 && bayes_dump(bb, fb) == 0);
	fclose(fa);
	fclose(fb);
	CHECK(la > 0 && la == lb && memcmp(da, dbuf, la) == 0);
	if (la != lb)
		fprintf(stderr, "  dump by digest %zu bytes, of the message %zu bytes\n", la, lb);
	free(da);
	free(dbuf);
	bayes_close(&ba);
	bayes_close(&bb);
	free(hash);
	/* an unknown digest is not found */
	CHECK(history_features("00000000000000000000000000000000", digest, user, sizeof(user), &hash, &n,
			       err, sizeof(err)) == 0);
	json_decref(l);
	if (redis_port)
		tm_history_redis_more(redis_port, one, cfg);
	CHECK(access(hdb, F_OK) == (redis_port ? -1 : 0));	/* on Redis no history file is made */
	history_close();

	milter_io_set(NULL);
	milter_shutdown();
	config_current_set(NULL);
	config_unref(&cfg);
}

TEST(milter_history)
{
	tm_history(0);
}

/* the same on Redis: a capped list, its hashes trimmed with it */
TEST(milter_history_redis)
{
	if (!redis_server_skip("milter_history_redis"))
		tm_history(redis_server_port());
}


/* tm_train - learn n messages of cls into db for user (NULL = global) */
static void tm_train(const char *db, const char *user, enum bayes_class cls, int n, const char *word)
{
	char err[600], msg[256];
	struct bayes *b = bayes_open(db, BAYES_OPEN_CREATE, NULL, err, sizeof(err), NULL);

	REQUIRE(b != NULL);
	bayes_batch_begin(b);
	for (int i = 0; i < n; i++) {
		enum bayes_learn_outcome out;
		int len = snprintf(msg, sizeof(msg), "From: x@example.net\r\nSubject: %s %d\r\n\r\n"
				   "%s %s number %d\r\n", word, i, word, word, i);
		bayes_learn(b, user, cls, (const unsigned char *)msg, (size_t)len, &out);
	}
	CHECK(bayes_batch_commit(b) == 0);
	bayes_close(&b);
}

/*
 * tm_start - write NAME.conf (database = db, then conf) in the test
 * folder, load it and make it the milter's, with tm_io and the counters
 * at zero; tm_stop undoes it.
 */
static struct bayesd_config *tm_start(const char *name, const char *db, const char *conf)
{
	char path[400], err[600];
	struct bayesd_config *cfg;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s.conf", test_tmpdir(), name);
	f = fopen(path, "w");
	if (f == NULL)
		return NULL;
	fprintf(f, "database = %s\n%scache_max_tokens = 0\n", db, conf);
	fclose(f);
	cfg = config_load(path, err, sizeof(err));
	if (cfg == NULL)
		return NULL;
	config_current_set(cfg);
	milter_reload();
	milter_io_set(&tm_io);
	tm_rejects = tm_quarantines = 0;
	return cfg;
}

static void tm_stop(struct bayesd_config **cfg)
{
	milter_io_set(NULL);
	milter_shutdown();
	config_current_set(NULL);
	config_unref(cfg);
}

/*
 * The issue 17 case: statistics skewed by Junk moves (400 spam, 3 ham)
 * must flag and reject nothing until both classes reach min_learns; and
 * mail from the box itself is not scored unless score_local.
 */
TEST(milter_min_learns)
{
	static const char *const one[] = { "<joe@example.org>", NULL };
	char db[400];
	struct bayesd_config *cfg;

	snprintf(db, sizeof(db), "%s/minlearn.db", test_tmpdir());
	tm_train(db, NULL, BAYES_SPAM, 400, "pills");
	tm_train(db, NULL, BAYES_HAM, 3, "meeting");
	/* reject at 0.5: anything spammy would be rejected if min_learns let it */
	cfg = tm_start("minlearn", db, "reject_threshold = 0.5\nspam_threshold = 0.5\n");
	REQUIRE(cfg != NULL);
	CHECK(cfg->min_learns == 200);	/* the default */

	for (int i = 0; i < 5; i++)
		tm_message(one, "pills", "pills pills pills number 7\r\n");
	CHECK(tm_rejects == 0);
	CHECK_STR(tm_status, "Unknown, not enough training");
	CHECK(strstr(tm_detail, "not enough training: spam=400 ham=3 min_learns=200 p=") == tm_detail);

	/* mature: 200 ham; the same message is now rejected */
	tm_train(db, NULL, BAYES_HAM, 197, "agenda");
	tm_message(one, "pills", "pills pills pills number 7\r\n");
	CHECK(tm_rejects == 1);

	/* postmaster@ (RFC 2142, exempt by default) is not scored, so not rejected,
	 * even with another recipient */
	{
		static const char *const pm[] = { "<joe@example.org>", "<Postmaster@example.org>", NULL };

		tm_message(pm, "pills", "pills pills pills number 7\r\n");
		CHECK(tm_rejects == 1);
		CHECK_STR(tm_status, "");
	}

	/* the box itself (pickup: loopback, no port) is not scored: no
	 * header, no reject */
	tm_client = "127.0.0.1";
	tm_port = 0;
	tm_message(one, "pills", "pills pills pills number 7\r\n");
	CHECK(tm_rejects == 1);
	CHECK_STR(tm_status, "");
	/* a loopback SMTP client (fetchmail, a reinjection) is scored */
	tm_port = 41000;
	tm_message(one, "pills", "pills pills pills number 7\r\n");
	CHECK(tm_rejects == 2);
	tm_client = "192.0.2.7";
	tm_port = 25000;

	tm_stop(&cfg);
}

/*
 * no_reject_recipients: a recipient who opted out of refusals gets spam
 * tagged, never rejected nor quarantined, even beside one who did not;
 * the others' spam is rejected as before.
 */
TEST(milter_no_reject_recipients)
{
	static const char *const joe[] = { "<joe@example.org>", NULL };
	static const char *const ann[] = { "<Ann+news@Example.ORG>", NULL };
	static const char *const both[] = { "<joe@example.org>", "<ann@example.org>", NULL };
	char db[400];
	struct bayesd_config *cfg;

	snprintf(db, sizeof(db), "%s/noreject.db", test_tmpdir());
	tm_train(db, NULL, BAYES_SPAM, 200, "pills");
	tm_train(db, NULL, BAYES_HAM, 200, "meeting");
	cfg = tm_start("noreject", db, "reject_threshold = 0.9\nquarantine_threshold = 0.6\n"
		       "spam_threshold = 0.5\nno_reject_recipients = ann@example.org\n");
	REQUIRE(cfg != NULL);

	tm_message(joe, "pills", "pills pills pills number 7\r\n");
	CHECK(tm_rejects == 1);
	tm_message(ann, "pills", "pills pills pills number 7\r\n");
	CHECK(tm_rejects == 1 && tm_quarantines == 0);
	CHECK(strncmp(tm_status, "Yes,", 4) == 0);	/* tagged as spam all the same */
	tm_message(both, "pills", "pills pills pills number 7\r\n");
	CHECK(tm_rejects == 1 && tm_quarantines == 0);
	CHECK(strncmp(tm_status, "Yes,", 4) == 0);
	tm_message(joe, "meeting", "meeting meeting agenda\r\n");	/* ham is untouched */
	CHECK(tm_rejects == 1 && strncmp(tm_status, "No,", 3) == 0);

	tm_stop(&cfg);
}

/* SpamAssassin-style points and stars: 5.0 exactly at spam_threshold */
TEST(verdict_points_and_level)
{
	char err[256];
	struct bayesd_config *cfg = config_load(NULL, err, sizeof(err));
	struct verdict_headers vh;

	REQUIRE(cfg != NULL);
	CHECK_NEAR(verdict_points(cfg, 0), 0, 1e-12);
	CHECK_NEAR(verdict_points(cfg, cfg->spam_threshold), 5.0, 1e-9);
	CHECK_NEAR(verdict_points(cfg, cfg->spam_threshold / 2), 2.5, 1e-9);
	CHECK_NEAR(verdict_points(cfg, 1), 10.0, 1e-9);
	CHECK(verdict_points(cfg, 0.5) < 5.0);
	CHECK(verdict_points(cfg, 0.95) > 5.0);
	verdict_format(cfg, 0.95, 10, 5, false, "spam", &vh);
	CHECK_STR(vh.score, "7.5");	/* 5 + 5 * (0.95 - 0.9) / 0.1 */
	CHECK_STR(vh.level, "*******");
	CHECK(vh.spam);
	CHECK_STR(vh.status, "Yes, score=7.5 required=5.0 tests=BAYES_95 autolearn=spam "
			     "version=bayesd-" BAYESD_VERSION);
	CHECK(strncmp(vh.detail, "p=0.95000 ", 10) == 0);
	verdict_format(cfg, 0.01, 10, 5, false, NULL, &vh);
	CHECK_STR(vh.score, "0.1");
	CHECK_STR(vh.level, "");
	CHECK_STR(vh.status, "No, score=0.1 required=5.0 tests=BAYES_05 autolearn=no "
			     "version=bayesd-" BAYESD_VERSION);
	verdict_format(cfg, cfg->spam_threshold, 10, 5, false, "disabled", &vh);
	CHECK(strncmp(vh.status, "Yes, score=5.0 required=5.0 tests=BAYES_80 autolearn=disabled ",
		      62) == 0);
	/* SpamAssassin's buckets, edges included */
	CHECK_STR(verdict_bayes_test(0), "BAYES_00");
	CHECK_STR(verdict_bayes_test(0.0099), "BAYES_00");
	CHECK_STR(verdict_bayes_test(0.01), "BAYES_05");
	CHECK_STR(verdict_bayes_test(0.05), "BAYES_20");
	CHECK_STR(verdict_bayes_test(0.2), "BAYES_40");
	CHECK_STR(verdict_bayes_test(0.4), "BAYES_50");
	CHECK_STR(verdict_bayes_test(0.5), "BAYES_50");
	CHECK_STR(verdict_bayes_test(0.6), "BAYES_60");
	CHECK_STR(verdict_bayes_test(0.8), "BAYES_80");
	CHECK_STR(verdict_bayes_test(0.95), "BAYES_95");
	CHECK_STR(verdict_bayes_test(0.99), "BAYES_99");
	CHECK_STR(verdict_bayes_test(0.9989), "BAYES_99");
	CHECK_STR(verdict_bayes_test(0.999), "BAYES_999");
	CHECK_STR(verdict_bayes_test(1), "BAYES_999");
	config_unref(&cfg);
}

/* tm_upstream_config - a config with upstream_headers = mode over db, made current */
static struct bayesd_config *tm_upstream_config(const char *db, const char *mode)
{
	char path[400], err[600];
	struct bayesd_config *cfg;
	FILE *f;

	snprintf(path, sizeof(path), "%s/upstream-%s.conf", test_tmpdir(), mode);
	f = fopen(path, "w");
	if (!f)
		return NULL;
	fprintf(f, "database = %s\nmin_learns = 0\nreject_threshold = off\ncache_max_tokens = 0\n"
		"upstream_headers = %s\n", db, mode);
	fclose(f);
	cfg = config_load(path, err, sizeof(err));
	if (!cfg)
		fprintf(stderr, "  %s\n", err);
	config_current_set(cfg);
	milter_reload();
	return cfg;
}

/* upstream_headers: incoming X-Spam-* renamed (default), removed or kept; ours always added */
TEST(milter_upstream_headers)
{
	static const char *const one[] = { "<joe@example.org>", NULL };
	static const char *const forged[] = {
		"X-Spam-Status", "Yes, score=42.0 required=5.0", "X-Spam-Flag", "YES",
		"x-spam-status", "second", NULL,
	};
	struct bayesd_config *cfg;
	char db[400];

	snprintf(db, sizeof(db), "%s/upstream.db", test_tmpdir());
	tm_train(db, NULL, BAYES_SPAM, 3, "pills");
	tm_train(db, NULL, BAYES_HAM, 3, "meeting");
	milter_io_set(&tm_io);
	tm_extra = forged;

	/* rename: the originals removed, re-added under X-Upstream-, ours added */
	cfg = tm_upstream_config(db, "rename");
	REQUIRE(cfg != NULL);
	tm_message(one, "pills", "pills pills pills number 7\r\n");
	CHECK(strstr(tm_hlog, "chg X-Spam-Status #2: (removed)\nchg X-Spam-Status #1: (removed)\n"));
	CHECK(strstr(tm_hlog, "chg X-Spam-Flag #1: (removed)\n"));
	CHECK(strstr(tm_hlog, "add X-Upstream-Spam-Status: Yes, score=42.0 required=5.0\n"
			      "add X-Upstream-Spam-Flag: YES\n"
			      "add X-Upstream-spam-status: second\n"));
	CHECK(strstr(tm_hlog, "add X-Spam-Status: ") > strstr(tm_hlog, "add X-Upstream-"));
	CHECK(strncmp(tm_status, "Yes, score=", 11) == 0 || strncmp(tm_status, "No, score=", 10) == 0);
	CHECK(strstr(tm_status, " required=5.0 tests=BAYES_") != NULL);
	config_unref(&cfg);

	/* remove: the originals removed, nothing renamed */
	cfg = tm_upstream_config(db, "remove");
	REQUIRE(cfg != NULL);
	tm_message(one, "pills", "pills pills pills number 7\r\n");
	CHECK(strstr(tm_hlog, "chg X-Spam-Status #2: (removed)\nchg X-Spam-Status #1: (removed)\n"));
	CHECK(strstr(tm_hlog, "chg X-Spam-Flag #1: (removed)\n"));
	CHECK(strstr(tm_hlog, "X-Upstream-") == NULL);
	CHECK(strstr(tm_hlog, "add X-Spam-Status: ") != NULL);
	config_unref(&cfg);

	/* keep: nothing removed or renamed; ours still added */
	cfg = tm_upstream_config(db, "keep");
	REQUIRE(cfg != NULL);
	tm_message(one, "pills", "pills pills pills number 7\r\n");
	CHECK(strstr(tm_hlog, "chg X-Spam") == NULL);
	CHECK(strstr(tm_hlog, "X-Upstream-") == NULL);
	CHECK(strstr(tm_hlog, "add X-Spam-Status: ") != NULL);
	CHECK(strstr(tm_hlog, "add X-Spam-Bayesd: p=") != NULL);
	config_unref(&cfg);

	/* not scored (postmaster@): renamed all the same, no verdict of ours */
	{
		static const char *const pm[] = { "<postmaster@example.org>", NULL };

		cfg = tm_upstream_config(db, "rename");
		REQUIRE(cfg != NULL);
		tm_message(pm, "pills", "pills pills pills number 7\r\n");
		CHECK(strstr(tm_hlog, "chg X-Spam-Flag #1: (removed)\n"));
		CHECK(strstr(tm_hlog, "add X-Upstream-Spam-Flag: YES\n"));
		CHECK(strstr(tm_hlog, "add X-Spam-") == NULL);
		config_unref(&cfg);
	}

	tm_extra = NULL;
	milter_io_set(NULL);
	milter_shutdown();
	config_current_set(NULL);
}
