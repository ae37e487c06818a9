/*
 * milter_headers.c - the header changes bayesd makes at end of message
 * (milter_conn.h): incoming X-Spam-* headers noted while they pass,
 * removed so no sender forges a verdict, and with upstream_headers =
 * rename re-added as X-Upstream-Spam-*; our own headers added; the
 * Subject tagged.
 */
#include "milter_conn.h"

#include <string.h>
#include <strings.h>

#include "log.h"

/* milter_note_upstream - remember an incoming X-Spam-* header and its value, to rename */
static void milter_note_upstream(struct milter_msg *m, const char *name, const char *value)
{
	if (m->nupstream == MILTER_UPSTREAM_MAX) {
		m->upstream_overflow = true;
		return;
	}
	m->upstream[m->nupstream].name = xstrdup(name);
	m->upstream[m->nupstream].value = xstrdup(value);
	m->nupstream++;
}

/* milter_note_removal - count an incoming X-Spam-* header by name; false when too many names */
static bool milter_note_removal(struct milter_msg *m, const char *name)
{
	for (size_t i = 0; i < m->nxspam; i++) {
		if (strcasecmp(m->xspam[i].name, name) == 0) {
			m->xspam[i].count++;
			return true;
		}
	}
	if (m->nxspam == MILTER_XSPAM_NAMES) {
		m->xspam_overflow = true;
		return false;
	}
	m->xspam[m->nxspam].name = xstrdup(name);
	m->xspam[m->nxspam].count = 1;
	m->nxspam++;
	return true;
}

/*
 * milter_note_xspam - remember an incoming X-Spam-* header for removal
 * (upstream_headers = remove or rename) and, for rename, its value; one
 * that cannot be removed (too many names) is not renamed either
 */
void milter_note_xspam(struct milter_conn *conn, const char *name, const char *value)
{
	if (conn->cfg->upstream_headers == UPSTREAM_KEEP)
		return;
	if (milter_note_removal(&conn->msg, name) && conn->cfg->upstream_headers == UPSTREAM_RENAME)
		milter_note_upstream(&conn->msg, name, value);
}

/* milter_addheader - add a header, logging a failure */
void milter_addheader(SMFICTX *ctx, struct milter_conn *conn, const char *qid,
			     const char *name, const char *value)
{
	if (milter_mio->addheader(ctx, (char *)name, (char *)value) != MI_SUCCESS)
		log_warning("%s: client=%s, cannot add header %s", qid, milter_client(conn), name);
}

/* milter_rename_upstream - re-add each noted X-Spam-Foo as X-Upstream-Spam-Foo */
static void milter_rename_upstream(SMFICTX *ctx, struct milter_conn *conn, const char *qid)
{
	struct milter_msg *m = &conn->msg;
	struct buf name;

	buf_init(&name);
	for (size_t i = 0; i < m->nupstream; i++) {
		buf_reset(&name);
		/* "X-Spam-Foo" -> "X-Upstream-Spam-Foo", the rest of the name as it came */
		buf_printf(&name, "X-Upstream-%s", m->upstream[i].name + 2);
		milter_addheader(ctx, conn, qid, name.data, m->upstream[i].value);
	}
	buf_free(&name);
	if (m->upstream_overflow)
		log_warning("%s: client=%s, more than %d incoming X-Spam-* headers; "
			    "the rest were removed, not renamed", qid, milter_client(conn),
			    MILTER_UPSTREAM_MAX);
}

/*
 * milter_strip_xspam - the incoming X-Spam-* headers, by upstream_headers:
 * removed (remove, rename), then re-added as X-Upstream-Spam-* (rename);
 * keep noted none
 */
void milter_strip_xspam(SMFICTX *ctx, struct milter_conn *conn, const char *qid)
{
	struct milter_msg *m = &conn->msg;

	for (size_t i = 0; i < m->nxspam; i++) {
		/* highest index first: removing one never renumbers those still to go */
		for (unsigned idx = m->xspam[i].count; idx > 0; idx--) {
			if (milter_mio->chgheader(ctx, m->xspam[i].name, (int)idx, NULL) != MI_SUCCESS)
				log_warning("%s: client=%s, cannot remove incoming %s header #%u",
					    qid, milter_client(conn), m->xspam[i].name, idx);
		}
	}
	if (m->xspam_overflow)
		log_warning("%s: client=%s, more than %d distinct X-Spam-* header names; "
			    "some incoming ones were left in place", qid, milter_client(conn),
			    MILTER_XSPAM_NAMES);
	milter_rename_upstream(ctx, conn, qid);
}

/* milter_subject - prefix the Subject with subject_tag */
void milter_subject(SMFICTX *ctx, struct milter_conn *conn, const char *qid)
{
	const char *tag = conn->cfg->subject_tag;
	const char *old = conn->msg.subject;
	struct buf s;

	if (!*tag)
		return;
	if (old && strncmp(old, tag, strlen(tag)) == 0)
		return;		/* already tagged (a resend) */
	buf_init(&s);
	buf_printf(&s, "%s%s", tag, old ? old : "");
	if (old) {
		if (milter_mio->chgheader(ctx, (char *)"Subject", 1, s.data) != MI_SUCCESS)
			log_warning("%s: client=%s, cannot rewrite Subject", qid, milter_client(conn));
	} else {
		milter_addheader(ctx, conn, qid, "Subject", s.data);
	}
	buf_free(&s);
}
