/*
 * autolearn.c - bayesd's autolearn rule. See autolearn.h.
 */
#include "autolearn.h"

#include "log.h"
#include "metrics.h"

/* autolearn_offer - the rule: thresholds, then the reasons not to, then the writer */
const char *autolearn_offer(const struct bayesd_config *cfg, struct writer *w, const struct autolearn_msg *m)
{
	enum writer_op op;
	const char *cls, *tag = m->tag ? m->tag : "NOQUEUE";
	int skip = -1;

	if (cfg == NULL || !cfg->autolearn)
		return NULL;
	if (m->prob >= cfg->autolearn_spam_threshold) {
		op = WRITER_AUTOLEARN_SPAM;
		cls = "spam";
	} else if (m->prob <= cfg->autolearn_ham_threshold) {
		op = WRITER_AUTOLEARN_HAM;
		cls = "ham";
	} else {
		return NULL;
	}
	/* the first reason that applies is the one counted */
	if (m->trusted)
		skip = METRICS_AUTOLEARN_TRUSTED;
	else if (m->authenticated)
		skip = METRICS_AUTOLEARN_AUTHENTICATED;
	else if (m->truncated)
		skip = METRICS_AUTOLEARN_TRUNCATED;
	if (skip >= 0) {
		metrics_autolearn_skipped(skip);
		log_debug("%s: autolearn %s skipped: %s", tag, cls, metrics_autolearn_reason(skip));
		return NULL;
	}
	if (w == NULL) {
		metrics_autolearn_skipped(METRICS_AUTOLEARN_BUSY);
		log_debug("%s: autolearn %s skipped: no writer", tag, cls);
		return NULL;
	}
	if (writer_post(w, op, m->user, m->data, m->size, m->prob, tag) != 0) {
		metrics_autolearn_skipped(METRICS_AUTOLEARN_BUSY);
		log_info("%s: autolearn %s dropped: the writer is busy", tag, cls);
		return NULL;
	}
	return cls;
}
