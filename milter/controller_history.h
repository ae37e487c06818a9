/*
 * controller_history.h - the controller's scan history endpoints and the
 * web page (kept apart from controller.c, which only routes here):
 *	GET  /history		JSON rows, newest first; query: action, min, max
 *				(probability), sender, rcpt, text, before (an id:
 *				the next page), limit (<= HISTORY_PAGE_MAX)
 *	GET  /history/ID	one row with its deciding features
 *	GET  /graph		per hour by action, score histogram, scan ms
 *				p50/p99 over the last 24 h and 7 days
 *	GET  /csrf		{"token":...}: what POST /learn_spam|learn_ham|forget
 *				?digest=... must carry in "X-CSRF-Token:"
 *	GET  /, /www/app.js, /www/style.css	the page (www_dir)
 * and POST /learn_spam|/learn_ham|/forget?digest=HEX: learn or forget the
 * newest history row with that digest from the features it kept, for the
 * row's user, through the writer.
 */
#ifndef BAYESD_CONTROLLER_HISTORY_H
#define BAYESD_CONTROLLER_HISTORY_H

#include <microhttpd.h>

#include "writer.h"

enum chist_endpoint { CHIST_LIST, CHIST_ROW, CHIST_GRAPH, CHIST_CSRF, CHIST_WWW };

/* chist_handle - answer a GET of endpoint ep for url. */
enum MHD_Result chist_handle(struct MHD_Connection *conn, enum chist_endpoint ep, const char *url);

/*
 * chist_learn - POST ?digest=: op WRITER_LEARN_SPAM, _HAM or WRITER_FORGET
 * of the history row with digest hex, through w. peer is for the log.
 */
enum MHD_Result chist_learn(struct MHD_Connection *conn, struct writer *w, enum writer_op op,
			    const char *hex, const char *peer);

#endif
