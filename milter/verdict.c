/*
 * verdict.c - the X-Spam-* header values. See verdict.h.
 */
#include "verdict.h"

#include <stdio.h>
#include <string.h>

double verdict_points(const struct bayesd_config *cfg, double prob)
{
	double t = cfg->spam_threshold, pts;

	if (!(prob > 0))
		return 0;
	if (prob > 1)
		prob = 1;
	if (prob < t)
		pts = VERDICT_POINTS_REQUIRED * prob / t;
	else if (t >= 1)
		pts = VERDICT_POINTS_REQUIRED;
	else
		pts = VERDICT_POINTS_REQUIRED +
		      (VERDICT_POINTS_MAX - VERDICT_POINTS_REQUIRED) * (prob - t) / (1 - t);
	return pts < 0 ? 0 : pts > VERDICT_POINTS_MAX ? VERDICT_POINTS_MAX : pts;
}

/* verdict_bayes_test - SpamAssassin's BAYES_NN rule name of the bucket prob falls in */
const char *verdict_bayes_test(double prob)
{
	static const struct {
		double below;
		const char *name;
	} buckets[] = {
		{ 0.01, "BAYES_00" }, { 0.05, "BAYES_05" }, { 0.20, "BAYES_20" },
		{ 0.40, "BAYES_40" }, { 0.60, "BAYES_50" }, { 0.80, "BAYES_60" },
		{ 0.95, "BAYES_80" }, { 0.99, "BAYES_95" }, { 0.999, "BAYES_99" },
	};

	for (size_t i = 0; i < sizeof(buckets) / sizeof(buckets[0]); i++)
		if (!(prob >= buckets[i].below))	/* NaN lands in the first */
			return buckets[i].name;
	return "BAYES_999";
}

void verdict_format(const struct bayesd_config *cfg, double prob, size_t tokens, size_t used,
		    bool truncated, const char *autolearn, struct verdict_headers *out)
{
	double pts = verdict_points(cfg, prob);
	size_t stars = (size_t)pts, i;

	out->spam = prob >= cfg->spam_threshold;
	snprintf(out->score, sizeof(out->score), "%.1f", pts);
	snprintf(out->status, sizeof(out->status),
		 "%s, score=%s required=%.1f tests=%s autolearn=%s version=bayesd-%s",
		 out->spam ? "Yes" : "No", out->score, VERDICT_POINTS_REQUIRED,
		 verdict_bayes_test(prob), autolearn ? autolearn : "no", BAYESD_VERSION);
	snprintf(out->detail, sizeof(out->detail), "p=%.5f tokens=%zu used=%zu%s version=%s", prob,
		 tokens, used, truncated ? " truncated=yes" : "", BAYESD_VERSION);
	for (i = 0; i < stars && i < sizeof(out->level) - 1; i++)
		out->level[i] = '*';
	out->level[i] = '\0';
}

void verdict_unknown(const char *reason, char *out, size_t outlen)
{
	snprintf(out, outlen, "Unknown, score=unknown (%.*s)", VERDICT_REASON_MAX, reason);
}

bool verdict_mature(const struct bayesd_config *cfg, uint64_t spam, uint64_t ham)
{
	return spam >= cfg->min_learns && ham >= cfg->min_learns;
}

void verdict_untrained(const struct bayesd_config *cfg, double prob, uint64_t spam, uint64_t ham,
		       struct verdict_headers *out)
{
	out->spam = false;
	snprintf(out->status, sizeof(out->status), "Unknown, not enough training");
	snprintf(out->detail, sizeof(out->detail),
		 "not enough training: spam=%llu ham=%llu min_learns=%u p=%.5f version=%s",
		 (unsigned long long)spam, (unsigned long long)ham, cfg->min_learns, prob,
		 BAYESD_VERSION);
}
