/*
 * test_engine.c - scoring arithmetic, the store's open checks, and
 * learn / relearn / forget / idempotence through the whole engine.
 */
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bayes.h"
#include "harness.h"
#include "score/score.h"
#include "util.h"

static const char spam_msg[] =
	"From: deals@pharma.example\nTo: user@example.org\nSubject: cheap pills online\n"
	"Message-ID: <1@pharma.example>\n\nBuy cheap pills online now, lowest prices, click here.\n";
static const char ham_msg[] =
	"From: alice@example.org\nTo: bob@example.org\nSubject: meeting notes\n"
	"Message-ID: <2@example.org>\n\nThanks for the notes, the release moves to next week.\n";

/* db_path - a fresh database path in the test directory. */
static const char *db_path(const char *name)
{
	static char p[300];
	snprintf(p, sizeof(p), "%s/%s", test_tmpdir(), name);
	return p;
}

static struct bayes *open_db(const char *name, unsigned flags)
{
	char err[600];
	struct bayes *b = bayes_open(db_path(name), flags, NULL, err, sizeof(err), NULL);
	if (!b)
		fprintf(stderr, "  open: %s\n", err);
	return b;
}

TEST(score_token_robinson)
{
	struct score_params p;
	score_params_default(&p);
	score_params_combiner(&p, SCORE_FISHER);	/* robs 0.45 */
	/* s=3 of 10 spam, h=1 of 10 ham: p(w)=0.75, n=4: (0.45*0.5 + 4*0.75)/4.45 */
	CHECK_NEAR(score_token(&p, 3, 1, 10, 10), (0.225 + 3.0) / 4.45, 1e-12);
	/* unseen token: robx */
	CHECK_NEAR(score_token(&p, 0, 0, 10, 10), 0.5, 1e-12);
	/* frequencies are per class: 1 of 2 spam vs 1 of 4 ham gives p(w)=2/3 */
	CHECK_NEAR(score_token(&p, 1, 1, 2, 4), (0.225 + 2.0 * (2.0 / 3.0)) / 2.45, 1e-12);
	/* a class with no messages contributes frequency 0 */
	CHECK_NEAR(score_token(&p, 2, 0, 5, 0), (0.225 + 2.0) / 2.45, 1e-12);
}

TEST(score_chi2q_closed_forms)
{
	/* 2 degrees of freedom: Q = exp(-x/2) */
	CHECK_NEAR(score_ln_chi2q(4.0, 1), -2.0, 1e-12);
	/* 4 degrees: Q = exp(-m)(1 + m), m = 3 */
	CHECK_NEAR(score_ln_chi2q(6.0, 2), -3.0 + log(4.0), 1e-12);
	/* 6 degrees, m = 2: exp(-2)(1 + 2 + 2) */
	CHECK_NEAR(score_ln_chi2q(4.0, 3), -2.0 + log(5.0), 1e-12);
	/* deep in the tail Q underflows in double but its log does not */
	double l = score_ln_chi2q(4000.0, 10);
	CHECK(isfinite(l) && l < -1500.0);
	CHECK_NEAR(score_ln_chi2q(0.0, 5), 0.0, 1e-12);
}

/* chi2q_series - score_ln_chi2q as first written: every term, log() and
 * exp() each time. The table of logarithms and the skipped zero terms
 * must give the very same bits. */
static double chi2q_series(double x2, size_t dof_half)
{
	double m = x2 / 2.0, lt = 0.0, sum = 0.0;

	if (!(m > 0.0) || dof_half == 0)
		return 0.0;
	double lm = log(m);
	size_t imax = (size_t)m < dof_half ? (size_t)m : dof_half - 1;
	double lmax = (double)imax * lm - lgamma((double)imax + 1.0);
	for (size_t i = 0; i < dof_half; i++) {
		if (i > 0)
			lt += lm - log((double)i);
		sum += exp(lt - lmax);
	}
	double r = -m + lmax + log(sum);
	return r > 0.0 ? 0.0 : r;
}

TEST(score_chi2q_same_bits)
{
	unsigned seed = 12345;
	int differ = 0;

	for (int n = 0; n < 1000; n++) {
		seed = seed * 1103515245u + 12345u;
		/* 1..6000 features (past the table too), x2 from tiny to huge */
		size_t k = 1 + (seed >> 8) % 6000;
		seed = seed * 1103515245u + 12345u;
		double x2 = ldexp((double)((seed >> 4) % 100000 + 1) / 100000.0, (int)((seed >> 20) % 30) - 8);
		x2 *= (double)k;
		double a = score_ln_chi2q(x2, k), b = chi2q_series(x2, k);
		if (memcmp(&a, &b, sizeof(a)) != 0 && differ++ < 5)
			fprintf(stderr, "  x2=%.17g k=%zu: %.17g vs %.17g\n", x2, k, a, b);
	}
	CHECK(differ == 0);
}

/* With a memo, across messages and changing totals: the same bits. */
TEST(score_combine_memo_same_bits)
{
	static struct score_memo memo;
	struct score_params p;
	struct store_counts c[300];
	double f1[300], f2[300];
	unsigned seed = 99;
	int differ = 0;

	score_params_default(&p);
	for (int msg = 0; msg < 400; msg++) {
		/* small counts repeat; large ones mostly do not */
		for (size_t i = 0; i < 300; i++) {
			seed = seed * 1103515245u + 12345u;
			unsigned r = seed >> 8;
			c[i].spam = r % 4 == 0 ? r % 5000 : r % 6;
			c[i].ham = r % 3 == 0 ? (r >> 4) % 7000 : (r >> 4) % 5;
		}
		uint64_t ns = 1000 + (uint64_t)(msg / 50), nh = 2000 - (uint64_t)(msg / 100);
		if (msg == 300)
			p.min_dev = 0.2;
		size_t u1, u2, n = 1 + (size_t)msg % 300;
		double a = score_combine(&p, c, n, ns, nh, f1, &u1, &memo);
		double b = score_combine(&p, c, n, ns, nh, f2, &u2, NULL);
		if (memcmp(&a, &b, sizeof(a)) != 0 || u1 != u2 || memcmp(f1, f2, n * sizeof(*f1)) != 0)
			differ++;
	}
	CHECK(differ == 0);
}

TEST(score_combine_hand_computed)
{
	struct score_params p;
	struct store_counts c[3] = { { 3, 1 }, { 0, 0 }, { 5, 5 } };
	double f[3];
	size_t used;

	score_params_default(&p);
	score_params_combiner(&p, SCORE_FISHER);
	double prob = score_combine(&p, c, 3, 10, 10, f, &used, NULL);
	/* only the first weighs in: unseen is skipped, 5/5 is exactly 0.5 */
	CHECK(used == 1);
	CHECK(f[1] < 0 && f[2] < 0);
	double fw = (0.225 + 3.0) / 4.45;
	/* one token: ln Qh = ln f, ln Qs = ln(1-f), so d is its log-odds */
	double d = log(fw / (1.0 - fw));
	CHECK_NEAR(prob, 1.0 / (1.0 + exp(-p.scale * asinh(d))), 1e-12);
	/* no evidence at all: 0.5 */
	CHECK_NEAR(score_combine(&p, c + 1, 2, 10, 10, NULL, &used, NULL), 0.5, 1e-12);
	/* symmetric evidence gives the mirrored probability */
	struct store_counts s[1] = { { 9, 1 } }, h[1] = { { 1, 9 } };
	CHECK_NEAR(score_combine(&p, s, 1, 10, 10, NULL, NULL, NULL) +
		   score_combine(&p, h, 1, 10, 10, NULL, NULL, NULL), 1.0, 1e-12);
}

TEST(score_mean_hand_computed)
{
	struct score_params p;
	struct store_counts c[5] = { { 4, 0 }, { 0, 0 }, { 5, 5 }, { 0, 3 }, { 3, 2 } };
	double f[5];
	size_t used;

	score_params_default(&p);
	CHECK(p.combiner == SCORE_MEAN && p.robs == 1.0 && p.min_dev == 0.225);
	double prob = score_combine(&p, c, 5, 10, 10, f, &used, NULL);
	/* unseen, 5/5 (exactly 0.5) and 3/2 (f = 3.5/6, inside the band) are left out */
	CHECK(used == 2);
	CHECK(f[1] < 0 && f[2] < 0 && f[4] < 0);
	double f0 = (0.5 + 4.0 * 1.0) / 5.0, f3 = 0.5 / 4.0;
	CHECK_NEAR(f[0], f0, 1e-12);
	CHECK_NEAR(f[3], f3, 1e-12);
	double m = (log(f0 / (1.0 - f0)) + log(f3 / (1.0 - f3))) / 2.0;
	CHECK_NEAR(prob, 1.0 / (1.0 + exp(-p.mean_scale * m)), 1e-12);
	/* the mean does not grow with repetition: twice the same evidence, same prob */
	struct store_counts twice[2] = { { 9, 1 }, { 9, 1 } };
	CHECK_NEAR(score_combine(&p, twice, 2, 10, 10, NULL, NULL, NULL),
		   score_combine(&p, twice, 1, 10, 10, NULL, NULL, NULL), 1e-12);
	/* Fisher keeps the smoothing and band it was measured with */
	score_params_combiner(&p, SCORE_FISHER);
	CHECK(p.combiner == SCORE_FISHER && p.robs == 0.45 && p.min_dev == 0.1);
	CHECK(score_combiner_parse("mean") == SCORE_MEAN && score_combiner_parse("fisher") == SCORE_FISHER);
	CHECK(score_combiner_parse("bogus") == -1);
}

TEST(score_long_message_no_saturation)
{
	/* Fisher: two long, strongly spammy messages must still be told apart */
	struct score_params p;
	struct store_counts c[2000];
	score_params_default(&p);
	score_params_combiner(&p, SCORE_FISHER);
	for (size_t i = 0; i < 2000; i++)
		c[i] = (struct store_counts){ 50, 1 };
	double a = score_combine(&p, c, 1000, 100, 100, NULL, NULL, NULL);
	double b = score_combine(&p, c, 2000, 100, 100, NULL, NULL, NULL);
	CHECK(a < 1.0 && b < 1.0);
	CHECK(b > a);
}

TEST(engine_learn_relearn_forget)
{
	struct bayes *b = open_db("learn.db", BAYES_OPEN_CREATE);
	enum bayes_learn_outcome o;
	struct bayes_stats st;
	struct bayes_result r;
	REQUIRE(b);

	REQUIRE(bayes_learn(b, NULL, BAYES_SPAM, (const unsigned char *)spam_msg, strlen(spam_msg), &o) == 0);
	CHECK(o == BAYES_LEARNED);
	REQUIRE(bayes_stats(b, NULL, &st) == 0);
	CHECK(st.learned_spam == 1 && st.learned_ham == 0);
	uint64_t tokens = st.tokens;
	CHECK(tokens > 10);

	/* the same again: nothing changes */
	REQUIRE(bayes_learn(b, NULL, BAYES_SPAM, (const unsigned char *)spam_msg, strlen(spam_msg), &o) == 0);
	CHECK(o == BAYES_ALREADY);
	REQUIRE(bayes_stats(b, NULL, &st) == 0);
	CHECK(st.learned_spam == 1 && st.tokens == tokens);

	/* learn a ham so both classes exist, then score */
	REQUIRE(bayes_learn(b, NULL, BAYES_HAM, (const unsigned char *)ham_msg, strlen(ham_msg), &o) == 0);
	CHECK(o == BAYES_LEARNED);
	REQUIRE(bayes_check(b, NULL, (const unsigned char *)spam_msg, strlen(spam_msg), NULL, &r) == 0);
	CHECK(r.prob > 0.9);
	REQUIRE(bayes_check(b, NULL, (const unsigned char *)ham_msg, strlen(ham_msg), NULL, &r) == 0);
	CHECK(r.prob < 0.1);

	/* the spam relearned as ham: counts move, totals move */
	REQUIRE(bayes_learn(b, NULL, BAYES_HAM, (const unsigned char *)spam_msg, strlen(spam_msg), &o) == 0);
	CHECK(o == BAYES_RELEARNED);
	REQUIRE(bayes_stats(b, NULL, &st) == 0);
	CHECK(st.learned_spam == 0 && st.learned_ham == 2);
	REQUIRE(bayes_check(b, NULL, (const unsigned char *)spam_msg, strlen(spam_msg), NULL, &r) == 0);
	for (size_t i = 0; i < r.ntop; i++)
		CHECK(r.top[i].spam == 0);

	/* forget both: back to an empty table */
	REQUIRE(bayes_forget(b, NULL, (const unsigned char *)spam_msg, strlen(spam_msg), &o) == 0);
	CHECK(o == BAYES_FORGOTTEN);
	REQUIRE(bayes_forget(b, NULL, (const unsigned char *)spam_msg, strlen(spam_msg), &o) == 0);
	CHECK(o == BAYES_NOT_LEARNED);
	REQUIRE(bayes_forget(b, NULL, (const unsigned char *)ham_msg, strlen(ham_msg), &o) == 0);
	CHECK(o == BAYES_FORGOTTEN);
	REQUIRE(bayes_stats(b, NULL, &st) == 0);
	CHECK(st.learned_spam == 0 && st.learned_ham == 0);
	CHECK(st.tokens == 0);
	CHECK(st.remembered == 0);
	bayes_close(&b);
	CHECK(b == NULL);
}

/* A batch: one transaction, seen by its own reads, by others only after commit. */
TEST(engine_batch_commits_once)
{
	struct bayes *w = open_db("batch.db", BAYES_OPEN_CREATE);
	struct bayes *r = open_db("batch.db", BAYES_OPEN_RDONLY);
	enum bayes_learn_outcome o;
	struct bayes_stats st;
	struct bayes_result res;
	REQUIRE(w && r);

	REQUIRE(bayes_batch_begin(w) == 0);
	CHECK(bayes_batch_begin(w) < 0);	/* no nesting */
	REQUIRE(bayes_learn(w, NULL, BAYES_SPAM, (const unsigned char *)spam_msg, strlen(spam_msg), &o) == 0);
	CHECK(o == BAYES_LEARNED);
	REQUIRE(bayes_learn(w, NULL, BAYES_HAM, (const unsigned char *)ham_msg, strlen(ham_msg), &o) == 0);
	CHECK(o == BAYES_LEARNED);
	/* the batch's own reads see its learns (train on error needs them) */
	REQUIRE(bayes_check(w, NULL, (const unsigned char *)spam_msg, strlen(spam_msg), NULL, &res) == 0);
	CHECK(res.learned_spam == 1 && res.learned_ham == 1);
	CHECK(res.prob > 0.9);
	REQUIRE(bayes_learn(w, NULL, BAYES_SPAM, (const unsigned char *)spam_msg, strlen(spam_msg), &o) == 0);
	CHECK(o == BAYES_ALREADY);
	/* another connection sees nothing before the commit */
	REQUIRE(bayes_stats(r, NULL, &st) == 0);
	CHECK(st.learned_spam == 0 && st.learned_ham == 0);
	REQUIRE(bayes_batch_commit(w) == 0);
	REQUIRE(bayes_stats(r, NULL, &st) == 0);
	CHECK(st.learned_spam == 1 && st.learned_ham == 1);
	/* after the batch, learns commit one by one again */
	REQUIRE(bayes_forget(w, NULL, (const unsigned char *)ham_msg, strlen(ham_msg), &o) == 0);
	CHECK(o == BAYES_FORGOTTEN);
	REQUIRE(bayes_stats(r, NULL, &st) == 0);
	CHECK(st.learned_ham == 0);
	/* an empty batch commits nothing and fails nothing */
	REQUIRE(bayes_batch_begin(w) == 0);
	CHECK(bayes_batch_commit(w) == 0);
	bayes_close(&r);
	bayes_close(&w);
}

/* dump_tokens - b's dump without the learned-message lines (they carry times). */
/*
 * learned_classes - the CLASS field of the dump's "l" rows when there are
 * some and all hold the same one, else -1.
 */
static int learned_classes(const char *text)
{
	int cls = -1, c;
	long long user, at;
	char hex[33];

	for (const char *line = text; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
		if (strncmp(line, "l ", 2) != 0)
			continue;
		if (sscanf(line, "l %lld %32[0-9a-f] %d %lld", &user, hex, &c, &at) != 4 || strlen(hex) != 32)
			return -1;
		if (cls >= 0 && c != cls)
			return -1;
		cls = c;
	}
	return cls;
}

static char *dump_tokens(struct bayes *b)
{
	char *text = NULL, *line, *save = NULL;
	size_t len = 0;
	struct buf out;
	FILE *f = open_memstream(&text, &len);

	buf_init(&out);
	if (f == NULL || bayes_dump(b, f) < 0) {
		if (f)
			fclose(f);
		free(text);
		return NULL;
	}
	fclose(f);
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		if (strncmp(line, "l ", 2) != 0)
			buf_printf(&out, "%s\n", line);
	free(text);
	return out.data;
}

/* A batch sums its changes per token: the result equals learning one by one. */
TEST(engine_batch_same_counts_as_single_learns)
{
	struct bayes *one = open_db("single.db", BAYES_OPEN_CREATE);
	struct bayes *bat = open_db("batched.db", BAYES_OPEN_CREATE);
	static const char spam2[] = "From: x@spam.example\nSubject: cheap pills\n\ncheap pills, click here now\n";
	static const char spam3[] = "From: y@spam.example\nSubject: pills\n\nlowest prices, cheap pills\n";
	enum bayes_learn_outcome o;
	REQUIRE(one && bat);

	REQUIRE(bayes_batch_begin(bat) == 0);
	for (int pass = 0; pass < 2; pass++) {
		struct bayes *b = pass ? bat : one;
		/* three spams sharing words: their counts add up inside the batch */
		REQUIRE(bayes_learn(b, NULL, BAYES_SPAM, (const unsigned char *)spam_msg, strlen(spam_msg), &o) == 0);
		REQUIRE(bayes_learn(b, NULL, BAYES_SPAM, (const unsigned char *)spam2, strlen(spam2), &o) == 0);
		REQUIRE(bayes_learn(b, NULL, BAYES_SPAM, (const unsigned char *)spam3, strlen(spam3), &o) == 0);
		REQUIRE(bayes_learn(b, NULL, BAYES_HAM, (const unsigned char *)ham_msg, strlen(ham_msg), &o) == 0);
		/* relearned and forgotten inside the batch: changes that cancel */
		REQUIRE(bayes_learn(b, NULL, BAYES_SPAM, (const unsigned char *)ham_msg, strlen(ham_msg), &o) == 0);
		CHECK(o == BAYES_RELEARNED);
		REQUIRE(bayes_forget(b, NULL, (const unsigned char *)spam3, strlen(spam3), &o) == 0);
		CHECK(o == BAYES_FORGOTTEN);
		REQUIRE(bayes_learn(b, "alice", BAYES_SPAM, (const unsigned char *)spam2, strlen(spam2), &o) == 0);
	}
	REQUIRE(bayes_batch_commit(bat) == 0);
	char *d1 = dump_tokens(one), *d2 = dump_tokens(bat);
	REQUIRE(d1 && d2);
	CHECK(strlen(d1) > 200);
	CHECK_STR(d1, d2);
	free(d1);
	free(d2);
	bayes_close(&one);
	bayes_close(&bat);
}

TEST(engine_digest_ignores_transit)
{
	/* the same message after LMTP delivery and a Sieve pipe: CRLF, trace, our verdict */
	const char *delivered =
		"Return-Path: <deals@pharma.example>\r\nDelivered-To: user@example.org\r\n"
		"Received: from mx (mx [192.0.2.1])\r\n\tby imap with LMTP; Mon, 3 Mar 2025\r\n"
		"From: deals@pharma.example\r\nTo: user@example.org\r\nSubject: cheap pills online\r\n"
		"Message-ID: <1@pharma.example>\r\nX-Spam-Status: Yes, score=0.99\r\nX-Spam-Flag: YES\r\n"
		"X-Upstream-Spam-Status: No, score=-1.0 required=5.0\r\n\r\n"
		"Buy cheap pills online now, lowest prices, click here.\r\n\r\n";
	uint8_t a[16], b[16], c[16];
	bayes_digest((const unsigned char *)spam_msg, strlen(spam_msg), a);
	bayes_digest((const unsigned char *)delivered, strlen(delivered), b);
	CHECK(memcmp(a, b, 16) == 0);
	/* but a changed body is another message */
	bayes_digest((const unsigned char *)ham_msg, strlen(ham_msg), c);
	CHECK(memcmp(a, c, 16) != 0);

	struct bayes *db = open_db("digest.db", BAYES_OPEN_CREATE);
	enum bayes_learn_outcome o;
	REQUIRE(db);
	REQUIRE(bayes_learn(db, "u1", BAYES_SPAM, (const unsigned char *)spam_msg, strlen(spam_msg), &o) == 0);
	CHECK(o == BAYES_LEARNED);
	REQUIRE(bayes_learn(db, "u1", BAYES_SPAM, (const unsigned char *)delivered, strlen(delivered), &o) == 0);
	CHECK(o == BAYES_ALREADY);
	/* another user has their own memory */
	REQUIRE(bayes_learn(db, "u2", BAYES_SPAM, (const unsigned char *)delivered, strlen(delivered), &o) == 0);
	CHECK(o == BAYES_LEARNED);
	bayes_close(&db);
}

TEST(engine_train_modes)
{
	struct bayes_options opt;
	char err[600];
	enum bayes_learn_outcome o;
	bayes_options_default(&opt);
	opt.train_mode = BAYES_TRAIN_ERROR;
	struct bayes *b = bayes_open(db_path("train.db"), BAYES_OPEN_CREATE, &opt, err, sizeof(err), NULL);
	REQUIRE(b);
	/* a spam scored 0.999 is right and sure: skipped; scored 0.5: learned */
	REQUIRE(bayes_train(b, NULL, BAYES_SPAM, 0.999, (const unsigned char *)spam_msg, strlen(spam_msg), &o) == 0);
	CHECK(o == BAYES_SKIPPED);
	REQUIRE(bayes_train(b, NULL, BAYES_SPAM, 0.5, (const unsigned char *)spam_msg, strlen(spam_msg), &o) == 0);
	CHECK(o == BAYES_LEARNED);
	/* a ham scored 0.01 is skipped, at 0.3 learned */
	REQUIRE(bayes_train(b, NULL, BAYES_HAM, 0.01, (const unsigned char *)ham_msg, strlen(ham_msg), &o) == 0);
	CHECK(o == BAYES_SKIPPED);
	REQUIRE(bayes_train(b, NULL, BAYES_HAM, 0.3, (const unsigned char *)ham_msg, strlen(ham_msg), &o) == 0);
	CHECK(o == BAYES_LEARNED);
	bayes_close(&b);
}

TEST(engine_open_checks)
{
	char err[600];
	enum bayes_errkind kind;
	struct bayes *b;
	FILE *f;

	/* missing, read-only: a clear error, no file created */
	b = bayes_open(db_path("missing.db"), BAYES_OPEN_RDONLY, NULL, err, sizeof(err), &kind);
	CHECK(b == NULL && strstr(err, "does not exist") != NULL);
	f = fopen(db_path("missing.db"), "r");
	CHECK(f == NULL);
	if (f)
		fclose(f);

	/* a text file is not a database */
	f = fopen(db_path("text.db"), "w");
	REQUIRE(f);
	fputs("this is not a database, it is a text file with enough bytes\n", f);
	fclose(f);
	b = bayes_open(db_path("text.db"), BAYES_OPEN_CREATE, NULL, err, sizeof(err), &kind);
	CHECK(b == NULL && kind == BAYES_ERR_INCOMPATIBLE);

	/* someone else's SQLite file */
	sqlite3 *db;
	REQUIRE(sqlite3_open(db_path("other.db"), &db) == SQLITE_OK);
	sqlite3_exec(db, "CREATE TABLE t(x)", NULL, NULL, NULL);
	sqlite3_close(db);
	b = bayes_open(db_path("other.db"), BAYES_OPEN_CREATE, NULL, err, sizeof(err), &kind);
	CHECK(b == NULL && kind == BAYES_ERR_INCOMPATIBLE);

	/* ours, from a newer schema */
	b = open_db("newer.db", BAYES_OPEN_CREATE);
	REQUIRE(b);
	bayes_close(&b);
	REQUIRE(sqlite3_open(db_path("newer.db"), &db) == SQLITE_OK);
	sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL);
	sqlite3_close(db);
	b = bayes_open(db_path("newer.db"), 0, NULL, err, sizeof(err), &kind);
	CHECK(b == NULL && kind == BAYES_ERR_INCOMPATIBLE && strstr(err, "schema version 99"));

	/* written by a tokenizer with other parameters */
	b = open_db("tok.db", BAYES_OPEN_CREATE);
	REQUIRE(b);
	bayes_close(&b);
	struct bayes_options opt;
	bayes_options_default(&opt);
	opt.tok.seed ^= 1;
	b = bayes_open(db_path("tok.db"), 0, &opt, err, sizeof(err), &kind);
	CHECK(b == NULL && kind == BAYES_ERR_INCOMPATIBLE && strstr(err, "incompatible tokenizer"));
	/* and with the same parameters it opens */
	b = open_db("tok.db", BAYES_OPEN_RDONLY);
	CHECK(b != NULL);
	bayes_close(&b);
}

/*
 * A database made without byte 4-grams (by an older bayesd, or with
 * ngram_bytes 0) opens with the default options and is read and trained
 * with its own tokenizer; one made with them is not opened without them.
 */
TEST(engine_open_keeps_old_tokenizer)
{
	char err[600];
	enum bayes_errkind kind;
	struct bayes_options old;
	struct bayes_result r_old, r_dflt;
	struct bayes_stats st;
	enum bayes_learn_outcome lo;
	struct bayes *b;

	bayes_options_default(&old);
	old.tok.ngram_bytes = 0;
	b = bayes_open(db_path("old-tok.db"), BAYES_OPEN_CREATE, &old, err, sizeof(err), &kind);
	REQUIRE(b);
	REQUIRE(bayes_learn(b, NULL, BAYES_SPAM, (const unsigned char *)spam_msg, strlen(spam_msg), &lo) == 0);
	REQUIRE(bayes_learn(b, NULL, BAYES_HAM, (const unsigned char *)ham_msg, strlen(ham_msg), &lo) == 0);
	REQUIRE(bayes_check(b, NULL, (const unsigned char *)spam_msg, strlen(spam_msg), NULL, &r_old) == 0);
	bayes_close(&b);

	b = bayes_open(db_path("old-tok.db"), 0, NULL, err, sizeof(err), &kind);
	REQUIRE(b);
	REQUIRE(bayes_stats(b, NULL, &st) == 0);
	CHECK(strstr(st.tok_params, "ngram") == NULL);
	REQUIRE(bayes_check(b, NULL, (const unsigned char *)spam_msg, strlen(spam_msg), NULL, &r_dflt) == 0);
	CHECK(r_dflt.prob == r_old.prob);
	bayes_close(&b);

	b = bayes_open(db_path("new-tok.db"), BAYES_OPEN_CREATE, NULL, err, sizeof(err), &kind);
	REQUIRE(b);
	REQUIRE(bayes_stats(b, NULL, &st) == 0);
	CHECK(strstr(st.tok_params, "ngram=4x") != NULL);
	bayes_close(&b);
	b = bayes_open(db_path("new-tok.db"), 0, &old, err, sizeof(err), &kind);
	CHECK(b == NULL && kind == BAYES_ERR_INCOMPATIBLE && strstr(err, "incompatible tokenizer"));
	bayes_close(&b);

	/* one made with 4-grams but no cap on the header's share (the
	 * default before the cap) keeps its tokenizer too */
	bayes_options_default(&old);
	old.tok.ngram_header_bytes = 0;
	b = bayes_open(db_path("nocap-tok.db"), BAYES_OPEN_CREATE, &old, err, sizeof(err), &kind);
	REQUIRE(b);
	REQUIRE(bayes_learn(b, NULL, BAYES_SPAM, (const unsigned char *)spam_msg, strlen(spam_msg), &lo) == 0);
	REQUIRE(bayes_check(b, NULL, (const unsigned char *)spam_msg, strlen(spam_msg), NULL, &r_old) == 0);
	bayes_close(&b);
	b = bayes_open(db_path("nocap-tok.db"), 0, NULL, err, sizeof(err), &kind);
	REQUIRE(b);
	REQUIRE(bayes_stats(b, NULL, &st) == 0);
	CHECK(strstr(st.tok_params, "ngram=4x") != NULL && strstr(st.tok_params, "ngramhdr") == NULL);
	REQUIRE(bayes_check(b, NULL, (const unsigned char *)spam_msg, strlen(spam_msg), NULL, &r_dflt) == 0);
	CHECK(r_dflt.prob == r_old.prob);
	bayes_close(&b);
	b = bayes_open(db_path("new-tok.db"), 0, NULL, err, sizeof(err), &kind);
	REQUIRE(b);
	REQUIRE(bayes_stats(b, NULL, &st) == 0);
	CHECK(strstr(st.tok_params, "ngramhdr=2000") != NULL);
	bayes_close(&b);
}

/* learned_totals - the message totals of user, as bayes_stats says */
static void learned_totals(struct bayes *b, const char *user, uint64_t *ns, uint64_t *nh)
{
	struct bayes_stats st;

	*ns = *nh = (uint64_t)-1;
	if (bayes_stats(b, user, &st) == 0) {
		*ns = st.learned_spam;
		*nh = st.learned_ham;
	}
}

TEST(engine_autolearn_never_overrides_manual)
{
	const unsigned char *msg = (const unsigned char *)spam_msg;
	size_t len = strlen(spam_msg);
	enum bayes_learn_outcome o;
	uint64_t ns, nh;
	struct bayes *b = open_db("auto1.db", BAYES_OPEN_CREATE);

	REQUIRE(b);
	/* a user says ham (a false positive corrected by hand) */
	REQUIRE(bayes_learn(b, "u1", BAYES_HAM, msg, len, &o) == 0);
	CHECK(o == BAYES_LEARNED);
	/* the same message autolearned as spam later: left alone, counts unchanged */
	REQUIRE(bayes_autolearn(b, "u1", BAYES_SPAM, 0.9999, msg, len, &o) == 0);
	CHECK(o == BAYES_KEPT_MANUAL);
	learned_totals(b, "u1", &ns, &nh);
	CHECK(ns == 0 && nh == 1);
	learned_totals(b, NULL, &ns, &nh);
	CHECK(ns == 0 && nh == 1);
	/* autolearned as the same class: also left alone (the record stays manual) */
	REQUIRE(bayes_autolearn(b, "u1", BAYES_HAM, 0.0001, msg, len, &o) == 0);
	CHECK(o == BAYES_KEPT_MANUAL);
	/* and a manual learn after that still counts as a manual record: ALREADY */
	REQUIRE(bayes_learn(b, "u1", BAYES_HAM, msg, len, &o) == 0);
	CHECK(o == BAYES_ALREADY);
	/* another user's memory is theirs: an autolearn there goes ahead */
	REQUIRE(bayes_autolearn(b, "u2", BAYES_SPAM, 0.9999, msg, len, &o) == 0);
	CHECK(o == BAYES_LEARNED);
	bayes_close(&b);
}

TEST(engine_manual_learn_replaces_autolearn)
{
	const unsigned char *msg = (const unsigned char *)spam_msg;
	const unsigned char *hmsg = (const unsigned char *)ham_msg;
	size_t len = strlen(spam_msg), hlen = strlen(ham_msg);
	enum bayes_learn_outcome o;
	uint64_t ns, nh;
	struct bayes *b = open_db("auto2.db", BAYES_OPEN_CREATE);

	REQUIRE(b);
	/* autolearned as spam (wrongly, say), for a user and global */
	REQUIRE(bayes_autolearn(b, "u1", BAYES_SPAM, 0.9995, msg, len, &o) == 0);
	CHECK(o == BAYES_LEARNED);
	REQUIRE(bayes_autolearn(b, "u1", BAYES_SPAM, 0.9995, msg, len, &o) == 0);
	CHECK(o == BAYES_ALREADY);
	/* an autolearn may flip an autolearn */
	REQUIRE(bayes_autolearn(b, "u1", BAYES_HAM, 0.0005, msg, len, &o) == 0);
	CHECK(o == BAYES_RELEARNED);
	REQUIRE(bayes_autolearn(b, "u1", BAYES_SPAM, 0.9995, msg, len, &o) == 0);
	CHECK(o == BAYES_RELEARNED);
	/* the user corrects it by hand: relearned, counts moved (user and global) */
	REQUIRE(bayes_learn(b, "u1", BAYES_HAM, msg, len, &o) == 0);
	CHECK(o == BAYES_RELEARNED);
	learned_totals(b, "u1", &ns, &nh);
	CHECK(ns == 0 && nh == 1);
	learned_totals(b, NULL, &ns, &nh);
	CHECK(ns == 0 && nh == 1);
	/* the automatic mark is gone: a later autolearn cannot undo the correction */
	REQUIRE(bayes_autolearn(b, "u1", BAYES_SPAM, 0.9999, msg, len, &o) == 0);
	CHECK(o == BAYES_KEPT_MANUAL);
	learned_totals(b, "u1", &ns, &nh);
	CHECK(ns == 0 && nh == 1);

	/* a manual learn confirming an autolearn (same class): same counts, mark cleared */
	REQUIRE(bayes_autolearn(b, NULL, BAYES_HAM, 0.0001, hmsg, hlen, &o) == 0);
	CHECK(o == BAYES_LEARNED);
	REQUIRE(bayes_learn(b, NULL, BAYES_HAM, hmsg, hlen, &o) == 0);
	CHECK(o == BAYES_ALREADY);
	learned_totals(b, NULL, &ns, &nh);
	CHECK(ns == 0 && nh == 2);
	REQUIRE(bayes_autolearn(b, NULL, BAYES_SPAM, 0.9999, hmsg, hlen, &o) == 0);
	CHECK(o == BAYES_KEPT_MANUAL);
	learned_totals(b, NULL, &ns, &nh);
	CHECK(ns == 0 && nh == 2);

	/* forget takes an autolearn back like any learn */
	REQUIRE(bayes_autolearn(b, "u3", BAYES_SPAM, 0.9999, msg, len, &o) == 0);
	CHECK(o == BAYES_LEARNED);
	REQUIRE(bayes_forget(b, "u3", msg, len, &o) == 0);
	CHECK(o == BAYES_FORGOTTEN);
	learned_totals(b, "u3", &ns, &nh);
	CHECK(ns == 0 && nh == 0);
	bayes_close(&b);
}

TEST(engine_autolearn_train_modes)
{
	struct bayes_options opt;
	char err[600];
	enum bayes_learn_outcome o;
	struct bayes *b;

	/* error mode: the thresholds decide (a confident score is never "unsure") */
	bayes_options_default(&opt);
	opt.train_mode = BAYES_TRAIN_ERROR;
	b = bayes_open(db_path("auto3.db"), BAYES_OPEN_CREATE, &opt, err, sizeof(err), NULL);
	REQUIRE(b);
	REQUIRE(bayes_autolearn(b, NULL, BAYES_SPAM, 0.9999, (const unsigned char *)spam_msg,
				strlen(spam_msg), &o) == 0);
	CHECK(o == BAYES_LEARNED);
	bayes_close(&b);
	/* mature mode: learns while immature (an unknown user is immature) */
	opt.train_mode = BAYES_TRAIN_MATURE;
	b = bayes_open(db_path("auto4.db"), BAYES_OPEN_CREATE, &opt, err, sizeof(err), NULL);
	REQUIRE(b);
	REQUIRE(bayes_autolearn(b, "new", BAYES_HAM, 0.0001, (const unsigned char *)ham_msg,
				strlen(ham_msg), &o) == 0);
	CHECK(o == BAYES_LEARNED);
	bayes_close(&b);
}

TEST(engine_autolearn_dump_round_trip)
{
	char *text = NULL;
	size_t len = 0;
	enum bayes_learn_outcome o;
	struct bayes *b = open_db("auto5.db", BAYES_OPEN_CREATE), *r;
	FILE *f;

	REQUIRE(b);
	REQUIRE(bayes_autolearn(b, "u1", BAYES_SPAM, 0.9999, (const unsigned char *)spam_msg,
				strlen(spam_msg), &o) == 0);
	f = open_memstream(&text, &len);
	REQUIRE(f);
	REQUIRE(bayes_dump(b, f) == 0);
	fclose(f);
	bayes_close(&b);
	/* the learned-message row ("l USER DIGEST CLASS AT"): CLASS 1 (spam) +
	 * 2 (global) + 4 (auto) = 7, in that field, not " 7 " anywhere */
	CHECK(learned_classes(text) == 7);
	r = open_db("auto6.db", BAYES_OPEN_CREATE);
	REQUIRE(r);
	f = fmemopen(text, len, "r");
	REQUIRE(f);
	CHECK(bayes_restore(r, f) == 0);
	fclose(f);
	REQUIRE(bayes_learn(r, "u1", BAYES_HAM, (const unsigned char *)spam_msg, strlen(spam_msg), &o) == 0);
	CHECK(o == BAYES_RELEARNED);
	REQUIRE(bayes_autolearn(r, "u1", BAYES_SPAM, 0.9999, (const unsigned char *)spam_msg,
				strlen(spam_msg), &o) == 0);
	CHECK(o == BAYES_KEPT_MANUAL);
	bayes_close(&r);
	free(text);
}
