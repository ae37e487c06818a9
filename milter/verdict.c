/*
 * verdict.c - the X-Spam-* header values. See verdict.h.
 */
#include "verdict.h"

#include <stdio.h>
#include <string.h>

/* fmt_threshold - "0.90", "0.955": at least two decimals, no trailing noise */
static void fmt_threshold(char *buf, size_t len, double t)
{
	size_t n;
	char *dot;

	snprintf(buf, len, "%.5f", t);
	n = strlen(buf);
	dot = strchr(buf, '.');
	while (dot && n > (size_t)(dot - buf) + 3 && buf[n - 1] == '0')
		buf[--n] = '\0';
}

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

void verdict_format(const struct bayesd_config *cfg, double prob, size_t tokens, size_t used,
		    bool truncated, struct verdict_headers *out)
{
	char req[32];

	out->spam = prob >= cfg->spam_threshold;
	fmt_threshold(req, sizeof(req), cfg->spam_threshold);
	snprintf(out->status, sizeof(out->status), "%s, score=%.5f required=%s",
		 out->spam ? "Yes" : "No", prob, req);
	snprintf(out->detail, sizeof(out->detail), "p=%.5f tokens=%zu used=%zu%s version=%s", prob,
		 tokens, used, truncated ? " truncated=yes" : "", BAYESD_VERSION);
	{
		double pts = verdict_points(cfg, prob);
		size_t stars = (size_t)pts, i;

		snprintf(out->score, sizeof(out->score), "%.1f", pts);
		for (i = 0; i < stars && i < sizeof(out->level) - 1; i++)
			out->level[i] = '*';
		out->level[i] = '\0';
	}
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
