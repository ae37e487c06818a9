/*
 * test_store.c - the store's contract, the same tests on both backends:
 * SQLite on a file, Redis on a real redis-server (redis_server.c) on
 * loopback. Each STORE_TEST body runs once per backend; the Redis run
 * uses a key prefix of its own, so tests never see each other's data.
 */
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bayes.h"
#include "harness.h"
#include "redis_server.h"
#include "store/store.h"
#include "util.h"

#define TOK_A "v=1 test-a"
#define TOK_B "v=1 test-b"

/* STORE_TEST - define body(be) and register it as store_sqlite_NAME and store_redis_NAME. */
#define STORE_TEST(name) \
	static void name##_on(enum bayes_backend be); \
	TEST(store_sqlite_##name) { name##_on(BAYES_BACKEND_SQLITE); } \
	TEST(store_redis_##name) { if (!redis_server_skip("store_redis_" #name)) name##_on(BAYES_BACKEND_REDIS); } \
	static void name##_on(enum bayes_backend be)

/* st_options - engine options for backend be; a Redis prefix of the test's name. */
static void st_options(enum bayes_backend be, const char *name, struct bayes_options *o)
{
	bayes_options_default(o);
	o->backend = be;
	if (be == BAYES_BACKEND_REDIS) {
		snprintf(o->redis.servers, sizeof(o->redis.servers), "127.0.0.1:%d", redis_server_port());
		snprintf(o->redis.prefix, sizeof(o->redis.prefix), "test:%s:", name);
	}
}

static const char *st_path(const char *name)
{
	static char p[400];

	snprintf(p, sizeof(p), "%s/store-%s.db", test_tmpdir(), name);
	return p;
}

/* st_open - the store of name on backend be; NULL with the reason printed. */
static struct store *st_open(enum bayes_backend be, const char *name, unsigned flags, const char *tok,
			     enum bayes_errkind *kind_r)
{
	struct bayes_options o;
	struct store_options so = { 0 };
	char err[600];
	enum bayes_errkind kind = BAYES_ERR_NONE;

	st_options(be, name, &o);
	so.backend = o.backend;
	so.redis = o.redis;
	so.sync_full = o.sync_full;
	so.busy_timeout_ms = o.busy_timeout_ms;
	struct store *s = store_open(st_path(name), flags, tok, &so, err, sizeof(err), &kind);
	if (kind_r)
		*kind_r = kind;
	if (!s && !kind_r)
		fprintf(stderr, "  open %s: %s\n", name, err);
	return s;
}

static struct bayes *st_bayes(enum bayes_backend be, const char *name, unsigned flags)
{
	struct bayes_options o;
	char err[600];

	st_options(be, name, &o);
	struct bayes *b = bayes_open(st_path(name), flags, &o, err, sizeof(err), NULL);
	if (!b)
		fprintf(stderr, "  open %s: %s\n", name, err);
	return b;
}

STORE_TEST(add_lookup_rollback)
{
	struct store *s = st_open(be, "basic", BAYES_OPEN_CREATE, TOK_A, NULL);
	uint64_t h[3] = { 11, 22, 33 }, ns, nh;
	struct store_counts c[3];
	int64_t uid = -1;

	REQUIRE(s);
	CHECK(store_is_empty(s) == 1);
	REQUIRE(store_begin(s) == 0);
	CHECK(store_user_id(s, "carol", true, &uid) == 1 && uid > 0);
	CHECK(store_add(s, 0, h, 3, 1, 0, 1, 0) == 0);
	CHECK(store_add(s, uid, h, 2, 0, 1, 0, 1) == 0);
	REQUIRE(store_commit(s) == 0);
	CHECK(store_is_empty(s) == 0);
	CHECK(store_lookup_message(s, 0, h, 3, c, &ns, &nh) == 3);
	CHECK(ns == 1 && nh == 0 && c[0].spam == 1 && c[2].spam == 1 && c[1].ham == 0);
	CHECK(store_lookup(s, uid, h, 3, c) == 2);
	CHECK(c[0].ham == 1 && c[1].ham == 1 && c[2].ham == 0 && c[2].spam == 0);
	int64_t again = -1;
	CHECK(store_user_id(s, "carol", false, &again) == 1 && again == uid);
	CHECK(store_user_id(s, "nobody", false, &again) == 0);

	/* a rolled-back transaction leaves nothing behind */
	REQUIRE(store_begin(s) == 0);
	CHECK(store_add(s, 0, h, 3, 5, 5, 5, 5) == 0);
	store_rollback(s);
	CHECK(store_lookup_message(s, 0, h, 3, c, &ns, &nh) == 3);
	CHECK(ns == 1 && nh == 0 && c[0].spam == 1 && c[0].ham == 0);

	/* counts clamp at zero and rows at zero go */
	REQUIRE(store_begin(s) == 0);
	CHECK(store_add(s, 0, h, 1, -1, 0, -1, 0) == 0);
	CHECK(store_add(s, 0, h + 1, 1, -3, 0, 0, 0) == 0);
	REQUIRE(store_commit(s) == 0);
	CHECK(store_lookup_message(s, 0, h, 3, c, &ns, &nh) == 1);
	CHECK(ns == 0 && c[0].spam == 0 && c[1].spam == 0 && c[2].spam == 1);
	struct bayes_stats st = { 0 };
	CHECK(store_stats(s, 0, &st) == 0 && st.tokens == 1 && st.users == 1);
	store_close(&s);
}

STORE_TEST(learned_memory)
{
	struct store *s = st_open(be, "learned", BAYES_OPEN_CREATE, TOK_A, NULL);
	uint8_t d[16] = { 1, 2, 3 };
	int cls = -1;

	REQUIRE(s);
	REQUIRE(store_begin(s) == 0);
	CHECK(store_learned_get(s, 0, d, &cls) == 0);
	CHECK(store_learned_put(s, 0, d, BAYES_SPAM | STORE_LEARNED_AUTO) == 0);
	REQUIRE(store_commit(s) == 0);
	CHECK(store_learned_get(s, 0, d, &cls) == 1 && cls == (BAYES_SPAM | STORE_LEARNED_AUTO));
	REQUIRE(store_begin(s) == 0);
	CHECK(store_learned_del(s, 0, d) == 0);
	REQUIRE(store_commit(s) == 0);
	CHECK(store_learned_get(s, 0, d, &cls) == 0);
	char v[64];
	CHECK(store_meta_put(s, "k", "v 1") == 0);
	CHECK(store_meta_get(s, "k", v, sizeof(v)) == 1 && strcmp(v, "v 1") == 0);
	CHECK(store_meta_get(s, "missing", v, sizeof(v)) == 0);
	store_close(&s);
}

STORE_TEST(tokenizer_checked)
{
	enum bayes_errkind kind;
	struct store *s = st_open(be, "tok", BAYES_OPEN_CREATE, TOK_A, NULL);

	REQUIRE(s);
	store_close(&s);
	s = st_open(be, "tok", BAYES_OPEN_RDONLY, TOK_B, &kind);
	CHECK(s == NULL && kind == BAYES_ERR_INCOMPATIBLE);
	store_close(&s);
	s = st_open(be, "tok", BAYES_OPEN_RDONLY, TOK_A, NULL);
	CHECK(s != NULL);
	store_close(&s);
	/* read-only, nothing there: an error, not an empty store */
	s = st_open(be, "never", BAYES_OPEN_RDONLY, TOK_A, &kind);
	CHECK(s == NULL && kind == BAYES_ERR_DB);
	store_close(&s);
}

STORE_TEST(expiry_rules)
{
	struct store *s = st_open(be, "expire", BAYES_OPEN_CREATE, TOK_A, NULL);
	int64_t now = 1700000000, today = now / 86400;
	struct store_row r = { 0 };
	struct bayes_expire_state e;

	REQUIRE(s);
	REQUIRE(store_begin(s) == 0);
	r.spam = 10;
	r.ham = 10;
	CHECK(store_row_put(s, STORE_TOTALS, &r) == 0);
	/* 300 rows: 100 old hapaxes, 100 old rare neutral, 100 fresh */
	for (uint64_t i = 1; i <= 300; i++) {
		r.hash = i * 7919;
		r.spam = 1;
		r.ham = i <= 100 ? 0 : 1;
		r.seen = i <= 200 ? today - 100 : today;
		CHECK(store_row_put(s, STORE_TOKENS, &r) == 0);
	}
	uint8_t d[16] = { 9 };
	memcpy(r.digest, d, 16);
	r.at = now - 400 * 86400;
	CHECK(store_row_put(s, STORE_LEARNED, &r) == 0);
	REQUIRE(store_commit(s) == 0);

	struct bayes_expire_rules rules;
	bayes_expire_rules_default(&rules);
	bayes_expire_begin(&e, &rules, now);
	long n;
	size_t steps = 0, examined = 0;
	do {
		REQUIRE(store_begin(s) == 0);
		n = store_expire_tokens(s, &e, 64);
		REQUIRE(n >= 0);
		REQUIRE(store_commit(s) == 0);
		examined += (size_t)n;
		steps++;
	} while (n == 64 && steps < 100);
	CHECK(e.hapaxes == 100 && e.neutral == 100 && e.stale == 0);
	CHECK(examined > 0);
	struct bayes_stats st = { 0 };
	CHECK(store_stats(s, 0, &st) == 0 && st.tokens == 100);
	REQUIRE(store_begin(s) == 0);
	CHECK(store_expire_learned(s, now - 365 * 86400, 10) == 1);
	REQUIRE(store_commit(s) == 0);
	CHECK(store_stats(s, 0, &st) == 0 && st.remembered == 0);
	store_close(&s);
}

/*
 * learn_and_score - learn the samples (globally and for two users) and
 * return their probabilities, so the backends can be compared exactly.
 */
static bool learn_and_score(enum bayes_backend be, const char *name, double *prob, size_t max, size_t *n_r)
{
	glob_t g;
	struct bayes *b = st_bayes(be, name, BAYES_OPEN_CREATE);
	const char *users[] = { NULL, "dave", "eve" };
	size_t k = 0;

	if (!b || glob("corpus/samples/*.eml", 0, NULL, &g) != 0) {
		bayes_close(&b);
		return false;
	}
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < g.gl_pathc; i++) {
			size_t n;
			char *m = test_slurp(g.gl_pathv[i], &n);
			enum bayes_learn_outcome out;
			enum bayes_class c = strstr(g.gl_pathv[i], "spam") ? BAYES_SPAM : BAYES_HAM;
			if (!m)
				continue;
			if (pass == 0) {
				CHECK(bayes_learn(b, NULL, c, (unsigned char *)m, n, &out) == 0);
				if (i % 2)
					CHECK(bayes_learn(b, "dave", c, (unsigned char *)m, n, &out) == 0);
				if (i == 1)	/* a relearn and a forget */
					CHECK(bayes_learn(b, "eve", !c, (unsigned char *)m, n, &out) == 0 &&
					      bayes_learn(b, "eve", c, (unsigned char *)m, n, &out) == 0 &&
					      out == BAYES_RELEARNED);
				if (i == 2)
					CHECK(bayes_forget(b, NULL, (unsigned char *)m, n, &out) == 0 &&
					      out == BAYES_FORGOTTEN);
			} else {
				for (size_t u = 0; u < 3 && k < max; u++) {
					struct bayes_result r;
					CHECK(bayes_check(b, users[u], (unsigned char *)m, n, NULL, &r) == 0);
					prob[k++] = r.prob;
				}
			}
			free(m);
		}
	globfree(&g);
	bayes_close(&b);
	*n_r = k;
	return true;
}

TEST(store_backends_score_alike)
{
	double ps[200], pr[200];
	size_t ns = 0, nr = 0;

	if (redis_server_skip("store_backends_score_alike"))
		return;
	REQUIRE(learn_and_score(BAYES_BACKEND_SQLITE, "alike", ps, 200, &ns));
	REQUIRE(learn_and_score(BAYES_BACKEND_REDIS, "alike", pr, 200, &nr));
	CHECK(ns == nr && ns >= 20);
	for (size_t i = 0; i < ns && i < nr; i++)
		if (ps[i] != pr[i])
			test_failf(__FILE__, __LINE__, "score %zu: sqlite %.17g, redis %.17g", i, ps[i], pr[i]);
}

/* st_dump - bayes_dump of a handle into memory. */
static char *st_dump(struct bayes *b, size_t *n_r)
{
	char *text = NULL;
	FILE *f = open_memstream(&text, n_r);

	if (!f)
		return NULL;
	int rc = bayes_dump(b, f);
	fclose(f);
	if (rc < 0) {
		fprintf(stderr, "  dump: %s\n", bayes_errmsg(b));
		free(text);
		return NULL;
	}
	return text;
}

/* st_restore - text into a new store of backend be. */
static struct bayes *st_restore(enum bayes_backend be, const char *name, const char *text, size_t n)
{
	struct bayes *b = st_bayes(be, name, BAYES_OPEN_CREATE);
	FILE *f = fmemopen((void *)text, n, "r");

	if (!b || !f || bayes_restore(b, f) < 0) {
		if (b)
			fprintf(stderr, "  restore: %s\n", bayes_errmsg(b));
		bayes_close(&b);
	}
	if (f)
		fclose(f);
	return b;
}

/* bulk_agrees - user's counts of h[0..n) read through the in-memory table
 * of a new BAYES_OPEN_BULK handle equal those read with SQL. */
static bool bulk_agrees(const char *name, int64_t user, const uint64_t *h, size_t n)
{
	struct store *bulk = st_open(BAYES_BACKEND_SQLITE, name, BAYES_OPEN_RDONLY | BAYES_OPEN_BULK, TOK_A, NULL);
	struct store *sql = st_open(BAYES_BACKEND_SQLITE, name, BAYES_OPEN_RDONLY, TOK_A, NULL);
	struct store_counts a[8], b[8];
	bool same = bulk && sql && n <= 8;

	if (same) {
		long fa = store_lookup(bulk, user, h, n, a), fb = store_lookup(sql, user, h, n, b);
		same = fa >= 0 && fa == fb;
		for (size_t i = 0; same && i < n; i++)
			same = a[i].spam == b[i].spam && a[i].ham == b[i].ham;
	}
	store_close(&bulk);
	store_close(&sql);
	return same;
}

/* The bulk load reads the whole table when it is one user's, else that
 * user's rows: both give what SQL gives. */
TEST(store_sqlite_bulk_load)
{
	struct store *s = st_open(BAYES_BACKEND_SQLITE, "bulk", BAYES_OPEN_CREATE, TOK_A, NULL);
	uint64_t h[6] = { 5, 0x8000000000000001ULL, UINT64_MAX, 77, 1ULL << 40, 9 };
	int64_t carol = -1, dave = -1;
	struct store_counts c[6];

	REQUIRE(s);
	REQUIRE(store_begin(s) == 0);
	CHECK(store_add(s, 0, h, 4, 1, 0, 1, 0) == 0);
	CHECK(store_add(s, 0, h + 1, 2, 0, 2, 0, 2) == 0);
	REQUIRE(store_commit(s) == 0);
	CHECK(bulk_agrees("bulk", 0, h, 6));
	REQUIRE(store_begin(s) == 0);
	CHECK(store_user_id(s, "carol", true, &carol) == 1 && carol > 0);
	CHECK(store_user_id(s, "dave", true, &dave) == 1 && dave > carol);
	CHECK(store_add(s, carol, h + 2, 3, 0, 1, 0, 1) == 0);
	REQUIRE(store_commit(s) == 0);
	/* global, carol (others on both sides), dave (no rows) */
	CHECK(bulk_agrees("bulk", 0, h, 6));
	CHECK(bulk_agrees("bulk", carol, h, 6));
	CHECK(bulk_agrees("bulk", dave, h, 6));
	/* carol's rows only */
	REQUIRE(store_begin(s) == 0);
	CHECK(store_add(s, 0, h, 4, -1, 0, -1, 0) == 0);
	CHECK(store_add(s, 0, h + 1, 2, 0, -2, 0, -2) == 0);
	REQUIRE(store_commit(s) == 0);
	CHECK(store_lookup(s, 0, h, 6, c) == 0);
	CHECK(bulk_agrees("bulk", carol, h, 6));
	CHECK(bulk_agrees("bulk", 0, h, 6));
	store_close(&s);
}

/*
 * A read-only bulk handle keeps its read snapshot across calls, but for a
 * bounded time (SNAPSHOT_KEEP_MS, 200 ms): a learn committed by another
 * handle shows in its counts and totals once that has passed. (Whether it
 * shows sooner depends on the machine's speed, so is not asserted.)
 */
TEST(store_sqlite_bulk_snapshot_ages)
{
	struct store *w = st_open(BAYES_BACKEND_SQLITE, "snap", BAYES_OPEN_CREATE, TOK_A, NULL);
	uint64_t h[2] = { 11, 22 }, ns = 0, nh = 0;
	struct store_counts c[2];
	struct timespec pause = { 0, 300 * 1000000L };

	REQUIRE(w);
	REQUIRE(store_begin(w) == 0);
	CHECK(store_add(w, 0, h, 2, 1, 0, 1, 0) == 0);
	REQUIRE(store_commit(w) == 0);
	struct store *r = st_open(BAYES_BACKEND_SQLITE, "snap", BAYES_OPEN_RDONLY | BAYES_OPEN_BULK, TOK_A, NULL);
	REQUIRE(r);
	REQUIRE(store_read_begin(r) == 0);
	CHECK(store_lookup_message(r, 0, h, 2, c, &ns, &nh) == 2);
	CHECK(c[0].spam == 1 && ns == 1);
	store_read_end(r);
	/* another handle learns while the reader holds its snapshot */
	REQUIRE(store_begin(w) == 0);
	CHECK(store_add(w, 0, h, 2, 1, 0, 1, 0) == 0);
	REQUIRE(store_commit(w) == 0);
	nanosleep(&pause, NULL);
	REQUIRE(store_read_begin(r) == 0);
	CHECK(store_lookup_message(r, 0, h, 2, c, &ns, &nh) == 2);
	CHECK(c[0].spam == 2 && c[1].spam == 2);
	CHECK(ns == 2 && nh == 0);
	store_read_end(r);
	store_close(&r);
	store_close(&w);
}

TEST(store_dump_sqlite_redis_sqlite)
{
	double p[200];
	size_t np, n1, n2, n3;

	if (redis_server_skip("store_dump_sqlite_redis_sqlite"))
		return;
	REQUIRE(learn_and_score(BAYES_BACKEND_SQLITE, "migrate", p, 200, &np));
	struct bayes *a = st_bayes(BAYES_BACKEND_SQLITE, "migrate", 0);
	REQUIRE(a);
	struct bayes_expire_state e;
	CHECK(bayes_expire(a, NULL, 1700000000, &e) == 0);
	char *d1 = st_dump(a, &n1);
	bayes_close(&a);
	REQUIRE(d1);
	struct bayes *r = st_restore(BAYES_BACKEND_REDIS, "migrated", d1, n1);
	REQUIRE(r);
	char *d2 = st_dump(r, &n2);
	/* a second restore into the same, no longer empty, statistics is refused */
	FILE *f = fmemopen(d1, n1, "r");
	CHECK(bayes_restore(r, f) < 0 && bayes_errkind(r) == BAYES_ERR_INPUT);
	fclose(f);
	bayes_close(&r);
	REQUIRE(d2);
	CHECK(n1 == n2 && memcmp(d1, d2, n1) == 0);
	struct bayes *back = st_restore(BAYES_BACKEND_SQLITE, "back", d2, n2);
	REQUIRE(back);
	char *d3 = st_dump(back, &n3);
	bayes_close(&back);
	CHECK(d3 && n3 == n1 && memcmp(d1, d3, n1) == 0);
	free(d1);
	free(d2);
	free(d3);
}

TEST(store_redis_conflict_is_detected)
{
	uint64_t h[2] = { 5, 6 }, ns, nh;
	uint8_t d[16] = { 7 };
	struct store_counts c[2];
	int cls;

	if (redis_server_skip("store_redis_conflict_is_detected"))
		return;
	struct store *a = st_open(BAYES_BACKEND_REDIS, "conflict", BAYES_OPEN_CREATE, TOK_A, NULL);
	struct store *b = st_open(BAYES_BACKEND_REDIS, "conflict", BAYES_OPEN_CREATE, TOK_A, NULL);
	REQUIRE(a && b);
	/* two nodes decide to learn the same new message; b commits first */
	REQUIRE(store_begin(a) == 0 && store_begin(b) == 0);
	CHECK(store_learned_get(a, 0, d, &cls) == 0 && store_learned_get(b, 0, d, &cls) == 0);
	CHECK(store_add(a, 0, h, 2, 1, 0, 1, 0) == 0 && store_learned_put(a, 0, d, BAYES_SPAM) == 0);
	CHECK(store_add(b, 0, h, 2, 1, 0, 1, 0) == 0 && store_learned_put(b, 0, d, BAYES_SPAM) == 0);
	CHECK(store_commit(b) == 0);
	CHECK(store_commit(a) == STORE_CONFLICT);
	CHECK(store_lookup_message(a, 0, h, 2, c, &ns, &nh) == 2);
	CHECK(ns == 1 && c[0].spam == 1 && c[1].spam == 1);
	store_close(&a);
	store_close(&b);
}

TEST(store_redis_unreachable_fails_fast)
{
	struct bayes_options o;
	char err[600];
	enum bayes_errkind kind = BAYES_ERR_NONE;
	struct timespec t0, t1;

	bayes_options_default(&o);
	o.backend = BAYES_BACKEND_REDIS;
	/* port 1 on loopback: nobody listens, the connection is refused at once */
	snprintf(o.redis.servers, sizeof(o.redis.servers), "127.0.0.1:1");
	o.redis.connect_timeout_ms = 300;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	struct bayes *b = bayes_open("redis", BAYES_OPEN_RDONLY, &o, err, sizeof(err), &kind);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	CHECK(b == NULL && kind == BAYES_ERR_DB);
	CHECK(strstr(err, "127.0.0.1:1") != NULL);
	CHECK(t1.tv_sec - t0.tv_sec < 2);
	bayes_close(&b);
	snprintf(o.redis.servers, sizeof(o.redis.servers), "127.0.0.1:notaport");
	b = bayes_open("redis", BAYES_OPEN_RDONLY, &o, err, sizeof(err), &kind);
	CHECK(b == NULL && kind == BAYES_ERR_INPUT);
	bayes_close(&b);
}

STORE_TEST(failed_restore_leaves_nothing)
{
	double p[200];
	size_t np, n1, n2;
	char name[64];

	snprintf(name, sizeof(name), "rsrc-%d", (int)be);
	REQUIRE(learn_and_score(be, name, p, 200, &np));
	struct bayes *a = st_bayes(be, name, 0);
	REQUIRE(a);
	char *d1 = st_dump(a, &n1);
	bayes_close(&a);
	REQUIRE(d1 && n1 > 100);
	/* cut before the end line: rows are written, then the restore fails */
	size_t cut = n1 - 2;
	while (cut > 0 && d1[cut - 1] != '\n')
		cut--;
	struct bayes *b = st_bayes(be, "rdst", BAYES_OPEN_CREATE);
	REQUIRE(b);
	FILE *f = fmemopen(d1, cut, "r");
	CHECK(bayes_restore(b, f) < 0 && bayes_errkind(b) == BAYES_ERR_INPUT);
	fclose(f);
	struct bayes_stats st;
	CHECK(bayes_stats(b, NULL, &st) == 0 && st.tokens == 0 && st.learned_spam == 0 && st.users == 0);
	/* so the whole dump restores afterwards */
	f = fmemopen(d1, n1, "r");
	CHECK(bayes_restore(b, f) == 0);
	fclose(f);
	char *d2 = st_dump(b, &n2);
	bayes_close(&b);
	CHECK(d2 && n1 == n2 && memcmp(d1, d2, n1) == 0);
	free(d1);
	free(d2);
}
