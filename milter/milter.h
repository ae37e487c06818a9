/*
 * milter.h - bayesd's libmilter filter: score each message, then add
 * headers, rewrite the Subject, quarantine or reject by thresholds.
 *
 * Life cycle, as main() calls it:
 *	milter_setup()	register with libmilter and open the listening socket
 *			(as root, before the privilege drop)
 *	milter_run()	smfi_main(): serve until milter_finish() or a signal
 *	milter_stop()	turn new connections away (from any thread)
 *	milter_drain()	wait for messages in flight to finish
 *	milter_finish()	smfi_stop(): milter_run() returns
 *	milter_reload()	a new config was published: drop pooled handles
 *	milter_shutdown()	close pooled engine handles
 *
 * The configuration comes from config_current(); each SMTP connection
 * pins the one it started with. The milter opens the database read-only
 * (a small pool of handles, one per busy thread) and never writes; with
 * autolearn it posts learns to the controller's writer and does not wait.
 */
#ifndef BAYESD_MILTER_H
#define BAYESD_MILTER_H

#include <stdbool.h>
#include <stddef.h>

#include <libmilter/mfapi.h>

#include "config.h"

/*
 * milter_setup - smfi_register, smfi_setconn(cfg->milter_socket) and
 * smfi_opensocket. Returns false with a one-line reason in err.
 */
bool milter_setup(const struct bayesd_config *cfg, char *err, size_t errlen);

/* milter_run - smfi_main() until milter_finish(); 0, or -1 when it failed. */
int milter_run(void);

/*
 * milter_stop - no new connections (turned away at negotiation, so the
 * MTA takes its default action); sessions in progress go on.
 */
void milter_stop(void);

/* milter_finish - smfi_stop(): milter_run() returns; open sessions end. */
void milter_finish(void);

/*
 * milter_drain - wait up to timeout_s seconds for messages in flight
 * (between MAIL FROM and end of message) to finish. Returns true when
 * none is left.
 */
bool milter_drain(unsigned timeout_s);

/* milter_reload - a new config is current: pooled handles are reopened with it. */
void milter_reload(void);

/* milter_probe - open a handle on cfg's database now; log why not (startup check). */
void milter_probe(const struct bayesd_config *cfg);

/*
 * milter_cache_set - before milter_run: the shared token cache (count_cache.h)
 * the milter's handles score from; NULL = none. It must outlive them.
 */
struct count_cache;
void milter_cache_set(struct count_cache *cache);

/*
 * milter_writer_set - the writer (writer.h) autolearns are posted to, or
 * NULL (autolearn is then off). Set before milter_run(); set NULL before
 * the writer is stopped, after milter_drain().
 */
struct writer;
void milter_writer_set(struct writer *w);

/* milter_shutdown - close every pooled engine handle. */
void milter_shutdown(void);

/*
 * struct milter_io - the libmilter calls with side effects, so a test can
 * drive the callbacks without an MTA (milter_io_set(NULL) restores
 * libmilter's own functions). setsymlist may be NULL.
 */
struct milter_io {
	void *(*getpriv)(SMFICTX *ctx);
	int (*setpriv)(SMFICTX *ctx, void *priv);
	char *(*getsymval)(SMFICTX *ctx, char *name);
	int (*addheader)(SMFICTX *ctx, char *name, char *value);
	int (*chgheader)(SMFICTX *ctx, char *name, int index, char *value);
	int (*setreply)(SMFICTX *ctx, char *rcode, char *xcode, char *message);
	int (*quarantine)(SMFICTX *ctx, char *reason);
	int (*setsymlist)(SMFICTX *ctx, int where, char *macros);
};

void milter_io_set(const struct milter_io *io);

/* milter_callbacks - the filter description (for tests that drive it). */
const struct smfiDesc *milter_callbacks(void);

#endif
