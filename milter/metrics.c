/*
 * metrics.c - process-wide counters and the scan-time histogram, rendered
 * for Prometheus. See metrics.h.
 *
 * Counters are C11 atomics with relaxed ordering: each is monotonic on its
 * own and Prometheus does not expect a consistent snapshot across series.
 * The histogram keeps one (non-cumulative) count per bucket and a sum in
 * nanoseconds; metrics_render() accumulates the buckets and derives _count
 * from them, so a scrape always sees le="+Inf" == _count.
 */
#include "metrics.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "bayes.h"

static const char *const metrics_verdicts[] = { "ham", "spam", "reject", "unknown" };

/* Index = enum bayes_learn_outcome + 1; 0 is METRICS_LEARN_ERROR. */
static const char *const metrics_outcomes[] = {
	"error", "learned", "already_learned", "relearned", "forgotten", "not_learned", "skipped",
};

/* Index = spam (1) or ham (0), as metrics_autolearned() counts. */
static const char *const metrics_al_classes[] = { "ham", "spam" };

/* Index = enum metrics_autolearn_skip. */
static const char *const metrics_al_reasons[] = {
	"trusted", "authenticated", "truncated", "busy", "already_learned", "manual", "mature", "error",
};

/* Upper bounds of the histogram buckets, in seconds (+Inf is implicit). */
static const double metrics_bounds[] = {
	0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
};
#define METRICS_NBUCKETS (ARRAY_SIZE(metrics_bounds) + 1)

#define METRICS_KIND_LEN 32

static atomic_uint_fast64_t metrics_scored_n[ARRAY_SIZE(metrics_verdicts)];
static atomic_uint_fast64_t metrics_learn_n[ARRAY_SIZE(metrics_outcomes)];
static atomic_uint_fast64_t metrics_bucket_n[METRICS_NBUCKETS];
static atomic_uint_fast64_t metrics_autolearn_n[ARRAY_SIZE(metrics_al_classes)];
static atomic_uint_fast64_t metrics_al_skip_n[ARRAY_SIZE(metrics_al_reasons)];
static atomic_uint_fast64_t metrics_sum_ns;

static pthread_mutex_t metrics_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
	char name[METRICS_KIND_LEN];
	uint64_t n;
} metrics_kinds[METRICS_MAX_KINDS + 1];	/* last slot: "other" */
static size_t metrics_nkinds;

static atomic_int metrics_started;
static struct timespec metrics_start;

/* metrics_now - monotonic clock. */
static struct timespec metrics_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts;
}

/* metrics_init - remember when the process started counting. */
void metrics_init(void)
{
	int expect = 0;

	if (atomic_compare_exchange_strong(&metrics_started, &expect, 1)) {
		metrics_start = metrics_now();
		atomic_store(&metrics_started, 2);
	}
}

/* metrics_scored - count a milter verdict and its scan time. */
void metrics_scored(int verdict, double ms)
{
	size_t b;
	double s;

	metrics_init();
	if (verdict < 0 || (size_t)verdict >= ARRAY_SIZE(metrics_verdicts))
		verdict = METRICS_UNKNOWN;
	atomic_fetch_add_explicit(&metrics_scored_n[verdict], 1, memory_order_relaxed);

	if (!isfinite(ms) || ms < 0)
		ms = 0;
	s = ms / 1000.0;
	for (b = 0; b < ARRAY_SIZE(metrics_bounds); b++)
		if (s <= metrics_bounds[b])
			break;
	atomic_fetch_add_explicit(&metrics_bucket_n[b], 1, memory_order_relaxed);
	if (ms > 1e9)		/* keep the sum's conversion in range */
		ms = 1e9;
	atomic_fetch_add_explicit(&metrics_sum_ns, (uint_fast64_t)(ms * 1e6), memory_order_relaxed);
}

/* metrics_learned - count a learn or forget by outcome. */
void metrics_learned(int outcome)
{
	size_t i = (size_t)(outcome + 1);

	metrics_init();
	if (outcome < METRICS_LEARN_ERROR || i >= ARRAY_SIZE(metrics_outcomes))
		i = 0;
	atomic_fetch_add_explicit(&metrics_learn_n[i], 1, memory_order_relaxed);
}

/* metrics_autolearned - count an autolearn by class. */
void metrics_autolearned(bool spam)
{
	metrics_init();
	atomic_fetch_add_explicit(&metrics_autolearn_n[spam ? 1 : 0], 1, memory_order_relaxed);
}

/* metrics_autolearn_skipped - count a confident verdict not learned, by reason. */
void metrics_autolearn_skipped(int why)
{
	metrics_init();
	if (why < 0 || (size_t)why >= ARRAY_SIZE(metrics_al_reasons))
		why = METRICS_AUTOLEARN_ERROR;
	atomic_fetch_add_explicit(&metrics_al_skip_n[why], 1, memory_order_relaxed);
}

/* metrics_autolearn_reason - the label of a reason. */
const char *metrics_autolearn_reason(int why)
{
	if (why < 0 || (size_t)why >= ARRAY_SIZE(metrics_al_reasons))
		why = METRICS_AUTOLEARN_ERROR;
	return metrics_al_reasons[why];
}

/* metrics_error - count an error under a sanitised label. */
void metrics_error(const char *kind)
{
	char name[METRICS_KIND_LEN];
	size_t i, n;

	metrics_init();
	if (kind == NULL || *kind == '\0')
		kind = "other";
	for (n = 0; kind[n] != '\0' && n < sizeof(name) - 1; n++) {
		char c = kind[n];
		name[n] = ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			   (c >= '0' && c <= '9') || c == '_') ? c : '_';
	}
	name[n] = '\0';

	pthread_mutex_lock(&metrics_lock);
	for (i = 0; i < metrics_nkinds; i++)
		if (strcmp(metrics_kinds[i].name, name) == 0)
			break;
	if (i == metrics_nkinds) {
		if (metrics_nkinds < METRICS_MAX_KINDS) {
			memcpy(metrics_kinds[i].name, name, n + 1);
			metrics_nkinds++;
		} else {
			i = METRICS_MAX_KINDS;
			strcpy(metrics_kinds[i].name, "other");
		}
	}
	metrics_kinds[i].n++;
	pthread_mutex_unlock(&metrics_lock);
}

/* metrics_family - one counter with one label: HELP, TYPE and a line per value. */
static void metrics_family(struct buf *out, const char *name, const char *help, const char *label,
			   const char *const *values, atomic_uint_fast64_t *counts, size_t n)
{
	buf_printf(out, "# HELP %s %s\n# TYPE %s counter\n", name, help, name);
	for (size_t i = 0; i < n; i++)
		buf_printf(out, "%s{%s=\"%s\"} %llu\n", name, label, values[i],
			   (unsigned long long)atomic_load_explicit(&counts[i], memory_order_relaxed));
}

/* metrics_render - the Prometheus text exposition of everything above. */
void metrics_render(struct buf *out)
{
	struct timespec now;
	uint64_t cum = 0;
	size_t i;

	metrics_init();

	metrics_family(out, "bayesd_messages_scored_total", "Messages scored by the milter, by verdict.",
		       "verdict", metrics_verdicts, metrics_scored_n, ARRAY_SIZE(metrics_verdicts));
	metrics_family(out, "bayesd_learns_total", "Learns and forgets through the controller, by outcome.",
		       "outcome", metrics_outcomes, metrics_learn_n, ARRAY_SIZE(metrics_outcomes));
	metrics_family(out, "bayesd_autolearn_total", "Messages autolearned from their score, by class.",
		       "class", metrics_al_classes, metrics_autolearn_n, ARRAY_SIZE(metrics_al_classes));
	metrics_family(out, "bayesd_autolearn_skipped_total", "Confident verdicts not autolearned, by reason.",
		       "reason", metrics_al_reasons, metrics_al_skip_n, ARRAY_SIZE(metrics_al_reasons));

	buf_printf(out, "# HELP bayesd_errors_total Errors, by kind.\n"
		   "# TYPE bayesd_errors_total counter\n");
	pthread_mutex_lock(&metrics_lock);
	for (i = 0; i <= METRICS_MAX_KINDS; i++) {
		if (i >= metrics_nkinds && i != METRICS_MAX_KINDS)
			continue;
		if (metrics_kinds[i].name[0] == '\0')
			continue;
		buf_printf(out, "bayesd_errors_total{kind=\"%s\"} %llu\n", metrics_kinds[i].name,
			   (unsigned long long)metrics_kinds[i].n);
	}
	pthread_mutex_unlock(&metrics_lock);

	buf_printf(out, "# HELP bayesd_scan_seconds Time the milter took to scan and score a message.\n"
		   "# TYPE bayesd_scan_seconds histogram\n");
	for (i = 0; i < METRICS_NBUCKETS; i++) {
		cum += atomic_load_explicit(&metrics_bucket_n[i], memory_order_relaxed);
		if (i < ARRAY_SIZE(metrics_bounds))
			buf_printf(out, "bayesd_scan_seconds_bucket{le=\"%g\"} %llu\n", metrics_bounds[i],
				   (unsigned long long)cum);
		else
			buf_printf(out, "bayesd_scan_seconds_bucket{le=\"+Inf\"} %llu\n",
				   (unsigned long long)cum);
	}
	buf_printf(out, "bayesd_scan_seconds_sum %.9f\n",
		   (double)atomic_load_explicit(&metrics_sum_ns, memory_order_relaxed) / 1e9);
	buf_printf(out, "bayesd_scan_seconds_count %llu\n", (unsigned long long)cum);

	now = metrics_now();
	buf_printf(out, "# HELP bayesd_uptime_seconds Seconds since bayesd started.\n"
		   "# TYPE bayesd_uptime_seconds gauge\n"
		   "bayesd_uptime_seconds %.3f\n",
		   atomic_load(&metrics_started) == 2 ?
		   (double)(now.tv_sec - metrics_start.tv_sec) +
		   (double)(now.tv_nsec - metrics_start.tv_nsec) / 1e9 : 0.0);
}
