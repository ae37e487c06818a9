/*
 * verdict.h - the X-Spam-* headers bayesd writes, the same whichever MTA
 * asked: the milter (milter.c) and the OpenSMTPD filter
 * (opensmtpd/smtpd_filter.c) both format them here.
 *
 *	X-Spam-Status: Yes|No, score=S required=5.0 tests=BAYES_NN autolearn=A version=bayesd-V
 *	X-Spam-Flag: YES				(spam only)
 *	X-Spam-Score: S				(points, see verdict_points)
 *	X-Spam-Level: ***				(one '*' per whole point)
 *	X-Spam-Bayesd: p=P tokens=N used=M [truncated=yes] version=V
 * X-Spam-Status has SpamAssassin's shape, so what parses SpamAssassin's
 * header (Sieve rules, mail clients, spamassassin-aware tools) parses
 * ours: S in points (verdict_points), required= the points at
 * spam_threshold, tests= the BAYES_NN bucket of the probability
 * (verdict_bayes_test), autolearn= spam|ham|no|disabled. The probability
 * itself is in X-Spam-Bayesd.
 * and, when no score could be had,
 *	X-Spam-Status: Unknown, score=unknown (reason)
 * and, while the statistics are below min_learns of either class,
 *	X-Spam-Status: Unknown, not enough training
 *	X-Spam-Bayesd: not enough training: spam=S ham=H min_learns=M p=P version=V
 */
#ifndef BAYESD_VERDICT_H
#define BAYESD_VERDICT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

#define VERDICT_REASON_MAX	120	/* bytes of an error reason in a header */

struct verdict_headers {
	bool spam;		/* add X-Spam-Flag: YES */
	char status[256];	/* X-Spam-Status value */
	char detail[256];	/* X-Spam-Bayesd value */
	char score[16];		/* X-Spam-Score value: points, "7.3" */
	char level[16];		/* X-Spam-Level value: stars, "" below 1 point */
};

#define VERDICT_POINTS_REQUIRED	5.0	/* points at spam_threshold: SpamAssassin's required_score */
#define VERDICT_POINTS_MAX	10.0	/* points at probability 1 */

/*
 * verdict_points - SpamAssassin-style points for probability prob: linear
 * from 0 at p = 0 to 5.0 at p = spam_threshold, then linear to 10.0 at
 * p = 1, so a Sieve rule or mail client that reads "score >= 5" or five
 * stars matches exactly what bayesd flags. Finite, in [0, 10].
 */
double verdict_points(const struct bayesd_config *cfg, double prob);

/*
 * verdict_bayes_test - the name of SpamAssassin's BAYES_NN rule whose
 * bucket holds probability prob: BAYES_00 below 0.01, BAYES_05 below 0.05,
 * BAYES_20 below 0.20, BAYES_40 below 0.40, BAYES_50 below 0.60, BAYES_60
 * below 0.80, BAYES_80 below 0.95, BAYES_95 below 0.99, BAYES_99 below
 * 0.999, BAYES_999 from 0.999 on.
 */
const char *verdict_bayes_test(double prob);

/*
 * verdict_format - the headers for probability prob under cfg's spam
 * threshold; tokens/used/truncated describe the scan (for the detail);
 * autolearn is what is done with the message: "spam" or "ham" (a learn
 * was posted), "no", "disabled" (autolearn off); NULL means "no".
 */
void verdict_format(const struct bayesd_config *cfg, double prob, size_t tokens, size_t used,
		    bool truncated, const char *autolearn, struct verdict_headers *out);

/*
 * verdict_mature - whether statistics with spam and ham learned messages
 * may give a verdict under cfg's min_learns (0: always). Only the
 * daemon's verdict and action depend on it; the probability is the
 * engine's either way.
 */
bool verdict_mature(const struct bayesd_config *cfg, uint64_t spam, uint64_t ham);

/*
 * verdict_untrained - the headers of a message scored on statistics below
 * min_learns: no flag, status "Unknown, not enough training", the counts
 * and the (unused) probability in the detail.
 */
void verdict_untrained(const struct bayesd_config *cfg, double prob, uint64_t spam, uint64_t ham,
		       struct verdict_headers *out);

/* verdict_unknown - the X-Spam-Status value when scoring failed for reason. */
void verdict_unknown(const char *reason, char *out, size_t outlen);

#endif
