/*
 * test_count_cache.c - the shared token cache: the table on its own (complete,
 * partial, saturated counts, deltas), then through the engine: a reader
 * scoring from the cache gets exactly what a reader of the database gets,
 * after the owner's learns, after another process's commit, and with a
 * cache too small for the table.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bayes.h"
#include "harness.h"
#include "tokens/count_cache.h"
#include "util.h"

/* load - a cache of max tokens holding rows (hash, spam, ham) and totals 10/20. */
static struct count_cache *load(size_t max, const uint64_t (*rows)[3], size_t n)
{
	struct count_cache *c = count_cache_new(max);
	struct count_cache_build *b = count_cache_build_begin(c, n);

	for (size_t i = 0; i < n; i++)
		if (!count_cache_build_add(b, rows[i][0], rows[i][1], rows[i][2]))
			break;
	count_cache_build_finish(c, &b, 10, 20, 7);
	return c;
}

TEST(count_cache_complete_lookup_and_apply)
{
	static const uint64_t rows[][3] = { { 11, 1, 0 }, { 22, 3, 4 }, { 33, 0, 70000 } };
	struct count_cache *c = load(100, rows, 3);
	uint64_t h[] = { 11, 22, 33, 44 }, ns = 0, nh = 0;
	struct store_counts out[4];
	size_t miss[4], nmiss = 9;
	int64_t v = 0;

	REQUIRE(count_cache_loaded(c, &v));
	CHECK(v == 7);
	REQUIRE(count_cache_lookup(c, h, 4, out, &ns, &nh, miss, &nmiss) == 1);
	CHECK(ns == 10 && nh == 20);
	CHECK(out[0].spam == 1 && out[0].ham == 0);
	CHECK(out[1].spam == 3 && out[1].ham == 4);
	/* 70000 does not fit 16 bits: the store answers; 44 is known absent */
	CHECK(nmiss == 1 && miss[0] == 2);
	CHECK(out[3].spam == 0 && out[3].ham == 0);

	/* forget-like deltas clamp at zero; a new token is added to a complete cache */
	uint64_t d[] = { 11, 44 };
	count_cache_apply(c, d, 2, -1, 1, -1, 1);
	count_cache_apply(c, h + 1, 1, -5, 0, 0, 0);
	REQUIRE(count_cache_lookup(c, h, 4, out, &ns, &nh, miss, &nmiss) == 1);
	CHECK(ns == 9 && nh == 21);
	CHECK(out[0].spam == 0 && out[0].ham == 1);
	CHECK(out[1].spam == 0 && out[1].ham == 4);
	CHECK(out[3].spam == 0 && out[3].ham == 1);

	count_cache_invalidate(c);
	CHECK(!count_cache_loaded(c, NULL));
	CHECK(count_cache_lookup(c, h, 4, out, &ns, &nh, miss, &nmiss) == 0);
	count_cache_apply(c, h, 1, 1, 0, 1, 0);	/* not loaded: nothing to follow */
	count_cache_free(&c);
	CHECK(c == NULL);
}

TEST(count_cache_partial_and_growth)
{
	uint64_t (*rows)[3] = xcalloc(5000, sizeof(*rows));
	struct count_cache_info ti;

	for (size_t i = 0; i < 5000; i++) {
		rows[i][0] = (i + 1) * 0x9E3779B97F4A7C15ULL;
		rows[i][1] = i % 3;
		rows[i][2] = 1;
	}
	/* more rows than the bound: partial, and a token not held is a miss */
	struct count_cache *c = load(3000, (const uint64_t (*)[3])rows, 5000);
	count_cache_info(c, &ti);
	CHECK(ti.loaded && !ti.complete && ti.tokens == 3000);
	uint64_t h[] = { rows[0][0], rows[4999][0] }, ns, nh;
	struct store_counts out[2];
	size_t miss[2], nmiss = 0;
	REQUIRE(count_cache_lookup(c, h, 2, out, &ns, &nh, miss, &nmiss) == 1);
	CHECK(out[0].spam == 0 && out[0].ham == 1);
	CHECK(nmiss == 1 && miss[0] == 1);
	/* a partial cache does not add tokens it did not hold: the store has them */
	count_cache_apply(c, h + 1, 1, 1, 0, 1, 0);
	REQUIRE(count_cache_lookup(c, h, 2, out, &ns, &nh, miss, &nmiss) == 1);
	CHECK(nmiss == 1 && miss[0] == 1);
	count_cache_free(&c);

	/* a complete cache grows with learns, and turns partial at its bound */
	c = load(4000, (const uint64_t (*)[3])rows, 3990);
	count_cache_info(c, &ti);
	CHECK(ti.complete && ti.tokens == 3990);
	uint64_t fresh[20];
	for (size_t i = 0; i < 20; i++)
		fresh[i] = 0xABCDEF00u + i;
	count_cache_apply(c, fresh, 20, 1, 0, 1, 0);
	count_cache_info(c, &ti);
	CHECK(!ti.complete && ti.tokens == 4000);
	struct store_counts fo[20];
	size_t fm[20];
	REQUIRE(count_cache_lookup(c, fresh, 20, fo, &ns, &nh, fm, &nmiss) == 1);
	CHECK(nmiss == 10 && fo[0].spam == 1 && fm[0] == 10);
	count_cache_free(&c);
	free(rows);
}

static const char *msgs[][2] = {
	{ "spam", "From: a@pharma.example\nSubject: cheap pills\n\nBuy cheap pills online now, best prices.\n" },
	{ "ham", "From: alice@example.org\nSubject: notes\n\nThe release moves to next week, notes attached.\n" },
	{ "spam", "From: b@casino.example\nSubject: win big\n\nWin big at the online casino, cheap bonus now.\n" },
	{ "ham", "From: bob@example.org\nSubject: lunch\n\nLunch next week? The notes can wait.\n" },
};
static const char probe[] = "From: c@example.net\nSubject: cheap notes\n\nCheap pills and release notes, next week online.\n";

/* same_score - the cached reader and the plain reader agree on probe. */
static void same_score(struct bayes *cached, struct bayes *plain, int line)
{
	struct bayes_result a, b;

	if (bayes_check(cached, NULL, (const unsigned char *)probe, strlen(probe), NULL, &a) != 0 ||
	    bayes_check(plain, NULL, (const unsigned char *)probe, strlen(probe), NULL, &b) != 0) {
		test_failf(__FILE__, line, "check failed: %s / %s", bayes_errmsg(cached), bayes_errmsg(plain));
		return;
	}
	if (a.prob != b.prob || a.nused != b.nused || a.learned_spam != b.learned_spam ||
	    a.learned_ham != b.learned_ham)
		test_failf(__FILE__, line, "cached p=%.9f used=%zu n=%llu/%llu, database p=%.9f used=%zu n=%llu/%llu",
			   a.prob, a.nused, (unsigned long long)a.learned_spam, (unsigned long long)a.learned_ham,
			   b.prob, b.nused, (unsigned long long)b.learned_spam, (unsigned long long)b.learned_ham);
}

/* learn - learn msgs[i] on b. */
static int learn(struct bayes *b, const char *user, size_t i, bool forget)
{
	enum bayes_learn_outcome o;
	const unsigned char *d = (const unsigned char *)msgs[i][1];

	if (forget)
		return bayes_forget(b, user, d, strlen(msgs[i][1]), &o);
	return bayes_learn(b, user, strcmp(msgs[i][0], "spam") == 0 ? BAYES_SPAM : BAYES_HAM, d,
			   strlen(msgs[i][1]), &o);
}

/* engine_run - the whole story with a cache bounded to max tokens. */
static void engine_run(const char *name, size_t max)
{
	char path[300], err[600];
	struct bayes_options o;
	struct count_cache *c = count_cache_new(max);
	struct bayes *w, *r, *plain, *other;

	snprintf(path, sizeof(path), "%s/%s", test_tmpdir(), name);
	bayes_options_default(&o);
	o.cache = c;
	w = bayes_open(path, BAYES_OPEN_CREATE, &o, err, sizeof(err), NULL);
	REQUIRE(w != NULL);
	r = bayes_open(path, BAYES_OPEN_RDONLY, &o, err, sizeof(err), NULL);
	plain = bayes_open(path, BAYES_OPEN_RDONLY, NULL, err, sizeof(err), NULL);
	other = bayes_open(path, 0, NULL, err, sizeof(err), NULL);	/* "another process" */
	REQUIRE(r && plain && other);

	REQUIRE(learn(w, NULL, 0, false) == 0);
	CHECK(!count_cache_loaded(c, NULL));	/* nobody loaded it yet */
	same_score(r, plain, __LINE__);
	CHECK(bayes_cache_refresh(w) == 1);
	CHECK(bayes_cache_refresh(w) == 0);	/* nothing changed */
	CHECK(count_cache_loaded(c, NULL));
	same_score(r, plain, __LINE__);

	/* the owner's learns are in the cache as soon as the learn returns */
	REQUIRE(learn(w, NULL, 1, false) == 0);
	REQUIRE(learn(w, "carol", 2, false) == 0);	/* a user's learn moves the global counts too */
	CHECK(count_cache_loaded(c, NULL));
	same_score(r, plain, __LINE__);
	REQUIRE(learn(w, NULL, 0, true) == 0);		/* forget */
	same_score(r, plain, __LINE__);

	/* another connection commits: the owner's next learn drops the cache */
	REQUIRE(learn(other, NULL, 3, false) == 0);
	REQUIRE(learn(w, NULL, 0, false) == 0);
	CHECK(!count_cache_loaded(c, NULL));
	same_score(r, plain, __LINE__);
	CHECK(bayes_cache_refresh(w) == 1);
	same_score(r, plain, __LINE__);
	/* and without a learn, the refresh notices it */
	REQUIRE(learn(other, NULL, 3, true) == 0);
	CHECK(bayes_cache_refresh(w) == 1);
	same_score(r, plain, __LINE__);

	/* closing the owner leaves nobody to follow changes */
	bayes_close(&w);
	CHECK(!count_cache_loaded(c, NULL));
	same_score(r, plain, __LINE__);
	bayes_close(&r);
	bayes_close(&plain);
	bayes_close(&other);
	count_cache_free(&c);
}

TEST(count_cache_engine_complete)
{
	engine_run("tc-complete.db", 100000);
}

TEST(count_cache_engine_partial)
{
	engine_run("tc-partial.db", 10);
}
