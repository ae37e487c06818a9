/*
 * http_reply.h - one response of the controller (libmicrohttpd), for its
 * API routes (controller.c) and the web page's (controller_history.c).
 * Rooms: libmicrohttpd only.
 */
#ifndef BAYESD_HTTP_REPLY_H
#define BAYESD_HTTP_REPLY_H

#include <stdbool.h>
#include <stddef.h>

#include <microhttpd.h>

/*
 * http_reply - queue a response with status, Content-Type ctype and body
 * text[0..len) (copied). With page, also the web page's safety headers:
 * nosniff, no-store, a Content-Security-Policy allowing the controller's
 * own scripts and styles only, and no framing.
 */
enum MHD_Result http_reply(struct MHD_Connection *conn, unsigned status, const char *ctype,
			   const char *text, size_t len, bool page);

#endif
