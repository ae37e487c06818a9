/*
 * batch_deltas.c - per-token sums of a batch's count changes. See batch_deltas.h.
 *
 * An open-addressing table indexes an array of entries; flushing sorts the
 * array by (user, change, token), so each run of equal changes is one
 * store_add call with its tokens ascending, the order the store's B-tree
 * likes best.
 */
#include "store/batch_deltas.h"

#include <stdlib.h>
#include <string.h>

#include "store/store.h"
#include "util.h"

struct delta {
	int64_t user;
	uint64_t hash;
	int ds, dh;
};

struct total {
	int64_t user;
	int ds, dh;
};

struct batch_deltas {
	struct delta *e;	/* entries in arrival order */
	size_t n, cap;
	uint32_t *slot;		/* index + 1 into e; 0 = empty */
	size_t nslots;		/* a power of two, at most half full */
	struct total *tot;	/* per-user message totals (few users per batch) */
	size_t ntot, captot;
	uint64_t *run;		/* scratch: the hashes of one run */
	size_t caprun;
};

struct batch_deltas *batch_deltas_new(void)
{
	return xcalloc(1, sizeof(struct batch_deltas));
}

void batch_deltas_free(struct batch_deltas **dp)
{
	struct batch_deltas *d = *dp;

	if (d == NULL)
		return;
	free(d->e);
	free(d->slot);
	free(d->tot);
	free(d->run);
	free(d);
	*dp = NULL;
}

/* mix - spread (user, hash) over the slots; token hashes are already random. */
static size_t mix(int64_t user, uint64_t hash, size_t mask)
{
	uint64_t h = hash ^ ((uint64_t)user * 0x9E3779B97F4A7C15ULL);

	return (size_t)(h ^ (h >> 29)) & mask;
}

/* rehash - grow the slot table to hold at least want entries at half load. */
static void rehash(struct batch_deltas *d, size_t want)
{
	size_t ns = d->nslots ? d->nslots : 1024;

	while (ns < want * 2)
		ns *= 2;
	free(d->slot);
	d->slot = xcalloc(ns, sizeof(*d->slot));
	d->nslots = ns;
	for (size_t i = 0; i < d->n; i++) {
		size_t j = mix(d->e[i].user, d->e[i].hash, ns - 1);
		while (d->slot[j])
			j = (j + 1) & (ns - 1);
		d->slot[j] = (uint32_t)(i + 1);
	}
}

void batch_deltas_add(struct batch_deltas *d, int64_t user, const uint64_t *hash, size_t n, int ds, int dh)
{
	if (ds == 0 && dh == 0)
		return;
	if ((d->n + n) * 2 > d->nslots)
		rehash(d, d->n + n);
	if (d->n + n > d->cap) {
		d->cap = (d->n + n) * 2;
		d->e = xrealloc(d->e, d->cap * sizeof(*d->e));
	}
	for (size_t i = 0; i < n; i++) {
		size_t mask = d->nslots - 1, j = mix(user, hash[i], mask);
		uint32_t k;

		while ((k = d->slot[j]) != 0) {
			struct delta *e = &d->e[k - 1];
			if (e->hash == hash[i] && e->user == user) {
				e->ds += ds;
				e->dh += dh;
				break;
			}
			j = (j + 1) & mask;
		}
		if (k == 0) {
			d->e[d->n] = (struct delta){ .user = user, .hash = hash[i], .ds = ds, .dh = dh };
			d->slot[j] = (uint32_t)++d->n;
		}
	}
}

void batch_deltas_add_totals(struct batch_deltas *d, int64_t user, int ds, int dh)
{
	size_t i;

	for (i = 0; i < d->ntot && d->tot[i].user != user; i++)
		;
	if (i == d->ntot) {
		if (d->ntot == d->captot) {
			d->captot = d->captot ? d->captot * 2 : 4;
			d->tot = xrealloc(d->tot, d->captot * sizeof(*d->tot));
		}
		d->tot[d->ntot++] = (struct total){ .user = user };
	}
	d->tot[i].ds += ds;
	d->tot[i].dh += dh;
}

int batch_deltas_empty(const struct batch_deltas *d)
{
	return d->n == 0 && d->ntot == 0;
}

static int cmp_delta(const void *a, const void *b)
{
	const struct delta *x = a, *y = b;

	if (x->user != y->user)
		return x->user < y->user ? -1 : 1;
	if (x->ds != y->ds)
		return x->ds < y->ds ? -1 : 1;
	if (x->dh != y->dh)
		return x->dh < y->dh ? -1 : 1;
	return x->hash < y->hash ? -1 : x->hash > y->hash;
}

void batch_deltas_clear(struct batch_deltas *d)
{
	d->n = d->ntot = 0;
	if (d->slot)
		memset(d->slot, 0, d->nslots * sizeof(*d->slot));
}

int batch_deltas_flush(struct batch_deltas *d, struct store *s)
{
	int rc = 0;

	if (d->n > 1)
		qsort(d->e, d->n, sizeof(*d->e), cmp_delta);
	if (d->n > d->caprun) {
		d->caprun = d->n;
		d->run = xrealloc(d->run, d->caprun * sizeof(*d->run));
	}
	for (size_t i = 0; i < d->n && rc == 0;) {
		const struct delta *first = &d->e[i];
		size_t k = 0;

		for (; i < d->n && d->e[i].user == first->user && d->e[i].ds == first->ds &&
		       d->e[i].dh == first->dh; i++)
			d->run[k++] = d->e[i].hash;
		/* changes that summed to nothing (a learn and its forget) are no changes */
		if (first->ds != 0 || first->dh != 0)
			rc = store_add(s, first->user, d->run, k, first->ds, first->dh, 0, 0);
	}
	for (size_t i = 0; i < d->ntot && rc == 0; i++)
		if (d->tot[i].ds != 0 || d->tot[i].dh != 0)
			rc = store_add(s, d->tot[i].user, NULL, 0, 0, 0, d->tot[i].ds, d->tot[i].dh);
	batch_deltas_clear(d);
	return rc;
}
