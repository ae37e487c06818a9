/*
 * test_lifecycle.c - living with the statistics: per-user isolation and
 * blending with the global statistics, relearning for a user, dump and
 * restore (round trip, refusals), and expiry removing exactly the rows its
 * rules name.
 *
 * Run from the top of the source tree (make check does): the round trip
 * reads the .eml files in corpus/samples.
 */
#include <glob.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bayes.h"
#include "harness.h"
#include "util.h"

static const char lc_spam[] =
	"From: deals@pharma.example\nTo: user@example.org\nSubject: cheap pills online\n"
	"Message-ID: <1@pharma.example>\n\nBuy cheap pills online now, lowest prices, click here.\n";
static const char lc_spam2[] =
	"From: win@lottery.example\nTo: user@example.org\nSubject: you won a prize\n"
	"Message-ID: <3@lottery.example>\n\nClaim your prize now, click here, cheap and free money.\n";
static const char lc_ham[] =
	"From: alice@example.org\nTo: bob@example.org\nSubject: meeting notes\n"
	"Message-ID: <2@example.org>\n\nThanks for the notes, the release moves to next week.\n";
static const char lc_ham2[] =
	"From: carol@example.org\nTo: bob@example.org\nSubject: lunch on friday\n"
	"Message-ID: <4@example.org>\n\nShall we move lunch to friday? The notes can wait a week.\n";

#define M(s) (const unsigned char *)(s), sizeof(s) - 1

/* lc_path - a path in the test directory. */
static const char *lc_path(const char *name)
{
	static char p[4][300];
	static int k;

	k = (k + 1) % 4;
	snprintf(p[k], sizeof(p[k]), "%s/%s", test_tmpdir(), name);
	return p[k];
}

/* lc_open - open (creating) a database with opt (NULL = defaults). */
static struct bayes *lc_open(const char *name, const struct bayes_options *opt)
{
	char err[600];
	struct bayes *b = bayes_open(lc_path(name), BAYES_OPEN_CREATE, opt, err, sizeof(err), NULL);

	if (!b)
		fprintf(stderr, "  open %s: %s\n", name, err);
	return b;
}

/* lc_prob - the probability of message m for user, or -1 on error. */
static double lc_prob(struct bayes *b, const char *user, const unsigned char *m, size_t n)
{
	struct bayes_result r;

	return bayes_check(b, user, m, n, NULL, &r) == 0 ? r.prob : -1.0;
}

/* lc_learn - learn, returning the outcome (or -1 on error). */
static int lc_learn(struct bayes *b, const char *user, enum bayes_class c, const unsigned char *m, size_t n)
{
	enum bayes_learn_outcome o;

	return bayes_learn(b, user, c, m, n, &o) == 0 ? (int)o : -1;
}

/* lc_totals - learned message totals of user. */
static void lc_totals(struct bayes *b, const char *user, uint64_t *s, uint64_t *h, uint64_t *tok)
{
	struct bayes_stats st;

	*s = *h = *tok = (uint64_t)-1;
	if (bayes_stats(b, user, &st) == 0) {
		*s = st.learned_spam;
		*h = st.learned_ham;
		*tok = st.tokens;
	}
}

/* isolation - A's learning never changes B's scores (B trained, mature or no global learns). */
static void isolation(const char *dbname, bool global_too)
{
	struct bayes_options opt;

	bayes_options_default(&opt);
	opt.learn_global_too = global_too;
	opt.user_mature_msgs = 1;	/* B is mature after one message of each class */
	struct bayes *b = lc_open(dbname, &opt);
	REQUIRE(b);
	CHECK(lc_learn(b, "b", BAYES_SPAM, M(lc_spam)) == BAYES_LEARNED);
	CHECK(lc_learn(b, "b", BAYES_HAM, M(lc_ham)) == BAYES_LEARNED);
	double before[4] = { lc_prob(b, "b", M(lc_spam)), lc_prob(b, "b", M(lc_spam2)),
			     lc_prob(b, "b", M(lc_ham)), lc_prob(b, "b", M(lc_ham2)) };

	/* A learns the opposite of what B thinks, and more */
	CHECK(lc_learn(b, "a", BAYES_HAM, M(lc_spam)) == BAYES_LEARNED);
	CHECK(lc_learn(b, "a", BAYES_SPAM, M(lc_ham)) == BAYES_LEARNED);
	CHECK(lc_learn(b, "a", BAYES_SPAM, M(lc_ham2)) == BAYES_LEARNED);
	CHECK(lc_learn(b, "a", BAYES_HAM, M(lc_spam2)) == BAYES_LEARNED);
	CHECK(lc_learn(b, "a", BAYES_SPAM, M(lc_spam2)) == BAYES_RELEARNED);
	double after[4] = { lc_prob(b, "b", M(lc_spam)), lc_prob(b, "b", M(lc_spam2)),
			    lc_prob(b, "b", M(lc_ham)), lc_prob(b, "b", M(lc_ham2)) };
	for (int i = 0; i < 4; i++)
		CHECK(before[i] >= 0 && before[i] == after[i]);

	uint64_t s, h, t;
	lc_totals(b, "b", &s, &h, &t);
	CHECK(s == 1 && h == 1);
	lc_totals(b, NULL, &s, &h, &t);
	CHECK(global_too ? (s == 4 && h == 2) : (s == 0 && h == 0));
	bayes_close(&b);
}

TEST(lifecycle_user_isolation)
{
	isolation("iso-global.db", true);
	isolation("iso-own.db", false);
}

TEST(lifecycle_blend_new_user_scores_like_global)
{
	struct bayes *b = lc_open("blend.db", NULL);
	REQUIRE(b);
	CHECK(lc_learn(b, NULL, BAYES_SPAM, M(lc_spam)) == BAYES_LEARNED);
	CHECK(lc_learn(b, NULL, BAYES_HAM, M(lc_ham)) == BAYES_LEARNED);
	/* "erin" exists but has nothing learned any more */
	CHECK(lc_learn(b, "erin", BAYES_SPAM, M(lc_spam2)) == BAYES_LEARNED);
	enum bayes_learn_outcome o;
	CHECK(bayes_forget(b, "erin", M(lc_spam2), &o) == 0 && o == BAYES_FORGOTTEN);

	const char *msgs[] = { lc_spam, lc_spam2, lc_ham, lc_ham2 };
	for (size_t i = 0; i < 4; i++) {
		const unsigned char *m = (const unsigned char *)msgs[i];
		size_t n = strlen(msgs[i]);
		double g = lc_prob(b, NULL, m, n);
		CHECK(g >= 0);
		CHECK(lc_prob(b, "erin", m, n) == g);		/* known, untrained */
		CHECK(lc_prob(b, "nobody", m, n) == g);		/* unknown */
	}

	/* a young user's own learn shows, on top of the global evidence */
	double before = lc_prob(b, "frank", M(lc_spam2));
	CHECK(lc_learn(b, "frank", BAYES_HAM, M(lc_spam2)) == BAYES_LEARNED);
	CHECK(lc_prob(b, "frank", M(lc_spam2)) < before);
	bayes_close(&b);
}

TEST(lifecycle_relearn_moves_user_and_global_once)
{
	struct bayes *b = lc_open("relearn.db", NULL);
	uint64_t s, h, t, gt;
	enum bayes_learn_outcome o;

	REQUIRE(b);
	CHECK(lc_learn(b, "a", BAYES_SPAM, M(lc_spam)) == BAYES_LEARNED);
	lc_totals(b, "a", &s, &h, &t);
	CHECK(s == 1 && h == 0 && t > 0);
	lc_totals(b, NULL, &s, &h, &gt);
	CHECK(s == 1 && h == 0 && gt == t);

	CHECK(lc_learn(b, "a", BAYES_HAM, M(lc_spam)) == BAYES_RELEARNED);
	CHECK(lc_learn(b, "a", BAYES_HAM, M(lc_spam)) == BAYES_ALREADY);
	lc_totals(b, "a", &s, &h, &t);
	CHECK(s == 0 && h == 1);
	lc_totals(b, NULL, &s, &h, &gt);
	CHECK(s == 0 && h == 1 && gt == t);

	/* the same message for another user counts again in global */
	CHECK(lc_learn(b, "b", BAYES_HAM, M(lc_spam)) == BAYES_LEARNED);
	lc_totals(b, NULL, &s, &h, &gt);
	CHECK(s == 0 && h == 2);

	CHECK(bayes_forget(b, "a", M(lc_spam), &o) == 0 && o == BAYES_FORGOTTEN);
	CHECK(bayes_forget(b, "b", M(lc_spam), &o) == 0 && o == BAYES_FORGOTTEN);
	lc_totals(b, "a", &s, &h, &t);
	CHECK(s == 0 && h == 0 && t == 0);
	lc_totals(b, NULL, &s, &h, &gt);
	CHECK(s == 0 && h == 0 && gt == 0);
	bayes_close(&b);

	/* a learn made without global counts is taken back without touching global */
	struct bayes_options opt;
	bayes_options_default(&opt);
	opt.learn_global_too = false;
	b = lc_open("relearn.db", &opt);
	REQUIRE(b);
	CHECK(lc_learn(b, "a", BAYES_SPAM, M(lc_spam)) == BAYES_LEARNED);
	bayes_close(&b);
	b = lc_open("relearn.db", NULL);
	REQUIRE(b);
	CHECK(lc_learn(b, "a", BAYES_HAM, M(lc_spam)) == BAYES_RELEARNED);
	lc_totals(b, NULL, &s, &h, &gt);
	CHECK(s == 0 && h == 1);	/* the relearn's own learn went global; nothing was taken */
	bayes_close(&b);
}

/* lc_dump - dump b into the file name; true on success. */
static bool lc_dump(struct bayes *b, const char *name)
{
	FILE *f = fopen(lc_path(name), "w");
	bool ok;

	if (!f)
		return false;
	ok = bayes_dump(b, f) == 0;
	return fclose(f) == 0 && ok;
}

/* lc_restore - restore the file name into a new database dbname: the engine's rc and kind. */
static int lc_restore(const char *name, const char *dbname, enum bayes_errkind *kind_r)
{
	struct bayes *b = lc_open(dbname, NULL);
	FILE *f = fopen(lc_path(name), "r");
	int rc = -1;

	*kind_r = BAYES_ERR_DB;
	if (b && f) {
		rc = bayes_restore(b, f);
		*kind_r = rc == 0 ? BAYES_ERR_NONE : bayes_errkind(b);
	}
	if (f)
		fclose(f);
	bayes_close(&b);
	return rc;
}

TEST(lifecycle_dump_restore_round_trip)
{
	glob_t g;
	struct bayes *a = lc_open("rt-a.db", NULL), *b;
	enum bayes_errkind kind;
	const char *users[] = { NULL, "dave smith%1", "eve" };

	REQUIRE(a);
	REQUIRE(glob("corpus/samples/*.eml", 0, NULL, &g) == 0);
	CHECK(g.gl_pathc >= 4);
	for (size_t i = 0; i < g.gl_pathc; i++) {
		size_t n;
		char *m = test_slurp(g.gl_pathv[i], &n);
		REQUIRE(m);
		enum bayes_class c = strstr(g.gl_pathv[i], "spam") ? BAYES_SPAM : BAYES_HAM;
		/* global gets everything; dave half; eve one, learned wrongly */
		CHECK(lc_learn(a, NULL, c, (unsigned char *)m, n) == BAYES_LEARNED);
		if (i % 2 == 0)
			CHECK(lc_learn(a, users[1], c, (unsigned char *)m, n) == BAYES_LEARNED);
		if (i == 0)
			CHECK(lc_learn(a, users[2], c == BAYES_SPAM ? BAYES_HAM : BAYES_SPAM, (unsigned char *)m, n) == BAYES_LEARNED);
		free(m);
	}
	struct bayes_expire_state st;
	CHECK(bayes_expire(a, NULL, 1700000000, &st) == 0);	/* a meta row to carry over */
	REQUIRE(lc_dump(a, "rt.dump"));
	REQUIRE(lc_restore("rt.dump", "rt-b.db", &kind) == 0);
	b = lc_open("rt-b.db", NULL);
	REQUIRE(b);
	for (size_t i = 0; i < g.gl_pathc; i++) {
		size_t n;
		char *m = test_slurp(g.gl_pathv[i], &n);
		REQUIRE(m);
		for (size_t u = 0; u < 3; u++) {
			double pa = lc_prob(a, users[u], (unsigned char *)m, n);
			double pb = lc_prob(b, users[u], (unsigned char *)m, n);
			if (!(pa >= 0 && pa == pb))
				test_failf(__FILE__, __LINE__, "%s user %s: %.17g before, %.17g restored",
					   g.gl_pathv[i], users[u] ? users[u] : "(global)", pa, pb);
		}
		free(m);
	}
	struct bayes_stats sa, sb;
	CHECK(bayes_stats(a, users[1], &sa) == 0 && bayes_stats(b, users[1], &sb) == 0);
	CHECK(sa.tokens == sb.tokens && sa.remembered == sb.remembered && sa.users == sb.users);
	CHECK(sb.last_expire == 1700000000);
	/* the restored database dumps to the same text */
	REQUIRE(lc_dump(b, "rt2.dump"));
	size_t n1, n2;
	char *d1 = test_slurp(lc_path("rt.dump"), &n1), *d2 = test_slurp(lc_path("rt2.dump"), &n2);
	REQUIRE(d1 && d2);
	CHECK_MEM(d2, n2 > 200 ? 200 : n2, d1, n1 > 200 ? 200 : n1);
	CHECK(n1 == n2 && memcmp(d1, d2, n1) == 0);
	free(d1);
	free(d2);
	globfree(&g);
	bayes_close(&a);
	bayes_close(&b);
}

/* lc_write - text into the file name. */
static void lc_write(const char *name, const char *text)
{
	FILE *f = fopen(lc_path(name), "w");

	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

TEST(lifecycle_restore_refuses)
{
	struct bayes *a = lc_open("rf-a.db", NULL);
	enum bayes_errkind kind;
	struct buf text = { 0 };

	REQUIRE(a);
	CHECK(lc_learn(a, "u", BAYES_SPAM, M(lc_spam)) == BAYES_LEARNED);
	REQUIRE(lc_dump(a, "rf.dump"));

	/* another tokenizer: the header's parameters differ */
	size_t n;
	char *d = test_slurp(lc_path("rf.dump"), &n);
	REQUIRE(d);
	char *nl = strchr(d, '\n');
	REQUIRE(nl);
	buf_printf(&text, "bayesd-dump 1 v=1 hash=xxh3 seed=0x1 osb=5 maxword=40 maxfeat=20000%s", nl);
	lc_write("rf-other.dump", text.data);
	CHECK(lc_restore("rf-other.dump", "rf-b.db", &kind) < 0 && kind == BAYES_ERR_INCOMPATIBLE);

	/* a truncated dump (no end line), a garbled line, an unknown user, a newer format */
	buf_reset(&text);
	buf_append(&text, d, (size_t)(strstr(d, "\nend ") - d) + 1);
	buf_putc(&text, '\0');
	lc_write("rf-trunc.dump", text.data);
	CHECK(lc_restore("rf-trunc.dump", "rf-b.db", &kind) < 0 && kind == BAYES_ERR_INPUT);
	buf_reset(&text);
	buf_printf(&text, "%.*s\nt 0 12345 1 0 20000\nend 0 1 1 0\n", (int)(nl - d), d);
	lc_write("rf-bad.dump", text.data);
	CHECK(lc_restore("rf-bad.dump", "rf-b.db", &kind) < 0 && kind == BAYES_ERR_INPUT);
	buf_reset(&text);
	buf_printf(&text, "%.*s\nt 7 0000000000012345 1 0 20000\nend 0 0 1 0\n", (int)(nl - d), d);
	lc_write("rf-user.dump", text.data);
	CHECK(lc_restore("rf-user.dump", "rf-b.db", &kind) < 0 && kind == BAYES_ERR_INPUT);
	buf_reset(&text);
	buf_printf(&text, "bayesd-dump 2 %s", d + 14);
	lc_write("rf-v2.dump", text.data);
	CHECK(lc_restore("rf-v2.dump", "rf-b.db", &kind) < 0 && kind == BAYES_ERR_INPUT);
	lc_write("rf-junk.dump", "From: someone\n\nnot a dump\n");
	CHECK(lc_restore("rf-junk.dump", "rf-b.db", &kind) < 0 && kind == BAYES_ERR_INPUT);

	/* nothing of the failed attempts was written: the good dump goes in once */
	CHECK(lc_restore("rf.dump", "rf-b.db", &kind) == 0);
	/* a database that holds statistics is never a restore target */
	CHECK(lc_restore("rf.dump", "rf-b.db", &kind) < 0 && kind == BAYES_ERR_INPUT);
	CHECK(lc_restore("rf.dump", "rf-a.db", &kind) < 0 && kind == BAYES_ERR_INPUT);
	free(d);
	buf_free(&text);
	bayes_close(&a);
}

/* lc_sql - run SQL on a database file; true on success. */
static bool lc_sql(const char *name, const char *sql)
{
	sqlite3 *db;
	char *msg = NULL;
	int rc;

	if (sqlite3_open(lc_path(name), &db) != SQLITE_OK)
		return false;
	rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
	if (rc != SQLITE_OK)
		fprintf(stderr, "  sql: %s\n", msg ? msg : "?");
	sqlite3_free(msg);
	sqlite3_close(db);
	return rc == SQLITE_OK;
}

/* lc_remaining - the hashes of the token rows left, as "user:hash," text. */
static void lc_remaining(const char *name, const char *table, struct buf *out)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	char sql[200];

	buf_reset(out);
	if (sqlite3_open(lc_path(name), &db) != SQLITE_OK)
		return;
	snprintf(sql, sizeof(sql), strcmp(table, "tokens") == 0 ?
		 "SELECT user_id, hash FROM tokens ORDER BY user_id, hash" :
		 "SELECT user_id, hex(digest) FROM learned ORDER BY user_id, digest");
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
		while (sqlite3_step(st) == SQLITE_ROW)
			buf_printf(out, "%lld:%s,", (long long)sqlite3_column_int64(st, 0),
				   (const char *)sqlite3_column_text(st, 1));
		sqlite3_finalize(st);
	}
	buf_putc(out, '\0');
	sqlite3_close(db);
}

TEST(lifecycle_expire_removes_exactly_what_it_should)
{
	/* now: day 20000 at noon; "seen" is a day number, "at" a Unix time */
	const int64_t now = 20000LL * 86400 + 43200;
	struct bayes *b = lc_open("exp.db", NULL);
	struct buf left = { 0 };

	REQUIRE(b);
	bayes_close(&b);
	/*
	 * user 0 totals 100 spam / 100 ham; user 1 ("u") 10 spam / 90 ham.
	 * hash = what it tests (the low digit the user):
	 *  1x  hapax, age 15: kept (not older than 15)    2x  hapax, age 16: gone
	 *  3x  rare neutral (2/2), age 60: kept            4x  rare neutral, age 61: gone
	 *  5x  rare but not neutral (4/0), age 100: kept   6x  frequent neutral (50/50), age 179: kept
	 *  7x  anything, age 181: gone                     8x  frequent, age 180: kept
	 *  9x  for user u, 1 spam 9 ham is neutral at 10/90 totals ... but frequent: kept, age 100
	 *  10x for user u, 1/1 is NOT neutral at 10/90 totals (p = 0.9), age 61: kept
	 *  11x for user u, 1/9 is neutral at its totals but 10 >= 5: kept, age 61
	 *  12x for user u, 0/3, rare, not neutral under global totals either: kept, age 61
	 */
	REQUIRE(lc_sql("exp.db",
		"INSERT INTO users(id, name) VALUES (1, 'u');"
		"UPDATE totals SET spam = 100, ham = 100 WHERE user_id = 0;"
		"INSERT INTO totals(user_id, spam, ham) VALUES (1, 10, 90);"
		"INSERT INTO tokens VALUES (0, 10, 1, 0, 19985), (0, 20, 0, 1, 19984),"
		" (0, 30, 2, 2, 19940), (0, 40, 2, 2, 19939), (0, 50, 4, 0, 19900),"
		" (0, 60, 50, 50, 19821), (0, 70, 40, 2, 19819), (0, 80, 40, 2, 19820),"
		" (1, 91, 1, 9, 19900), (1, 101, 1, 1, 19939), (1, 111, 1, 9, 19939), (1, 121, 0, 3, 19939),"
		" (1, 21, 1, 0, 19000);"
		"INSERT INTO learned VALUES (0, x'00000000000000000000000000000001', 1, 1728000000 - 365 * 86400 + 43200),"
		" (0, x'00000000000000000000000000000002', 0, 1728000000 - 366 * 86400),"
		" (1, x'00000000000000000000000000000003', 2, 1728000000 - 400 * 86400),"
		" (1, x'00000000000000000000000000000004', 1, 1728000000);"));
	b = lc_open("exp.db", NULL);
	REQUIRE(b);
	struct bayes_expire_rules r;
	struct bayes_expire_state st;
	bayes_expire_rules_default(&r);
	r.batch_rows = 3;	/* several steps, the cursor crossing users */
	CHECK(bayes_expire(b, &r, now, &st) == 0);
	CHECK(st.hapaxes == 2 && st.neutral == 1 && st.stale == 1 && st.learned == 2);
	struct bayes_stats s;
	CHECK(bayes_stats(b, NULL, &s) == 0 && s.last_expire == now);
	bayes_close(&b);
	lc_remaining("exp.db", "tokens", &left);
	CHECK_STR(left.data, "0:10,0:30,0:50,0:60,0:80,1:91,1:101,1:111,1:121,");
	lc_remaining("exp.db", "learned", &left);
	CHECK_STR(left.data, "0:00000000000000000000000000000001,1:00000000000000000000000000000004,");

	/* a second run finds nothing more; rules set to 0 are off */
	b = lc_open("exp.db", NULL);
	REQUIRE(b);
	CHECK(bayes_expire(b, NULL, now, &st) == 0);
	CHECK(st.hapaxes + st.neutral + st.stale + st.learned == 0);
	r.hapax_days = r.neutral_days = r.any_days = r.learned_days = 0;
	CHECK(bayes_expire(b, &r, now + 1000LL * 86400, &st) == 0);
	CHECK(st.hapaxes + st.neutral + st.stale + st.learned == 0);
	bayes_close(&b);
	buf_free(&left);
}
