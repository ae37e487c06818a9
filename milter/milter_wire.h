/*
 * milter_wire.h - the milter protocol (version 6), spoken by bayesd itself
 * on its own listening socket, driving the filter's smfiDesc callbacks.
 *
 * Why not libmilter: it reads every packet with a poll() and two read()s
 * and starts a thread per connection. Under Postfix that was ~150 system
 * calls per message and half of bayesd's CPU time. Here a connection's
 * packets are read in bursts into one buffer, the replies to a burst go
 * out in one write, and worker threads are kept and reused.
 *
 *	wire_listen()	open the listening socket (as root, before the
 *			privilege drop); inet:PORT@HOST, inet6:PORT@HOST,
 *			unix:PATH, local:PATH or PATH
 *	wire_serve()	serve connections until wire_stop()
 *	wire_stop()	stop accepting (from any thread); wire_serve() returns
 *
 * The callbacks reach the MTA through wire_io() (struct milter_io), with
 * the SMFICTX pointer being the connection's own state.
 */
#ifndef BAYESD_MILTER_WIRE_H
#define BAYESD_MILTER_WIRE_H

#include <stdbool.h>
#include <stddef.h>

#include <libmilter/mfapi.h>

struct milter_io;

/* wire_listen - bind and listen on spec; false with a one-line reason in err */
bool wire_listen(const char *spec, char *err, size_t errlen);

/* wire_serve - accept and serve connections with desc until wire_stop(); false if it could not start */
bool wire_serve(const struct smfiDesc *desc);

/*
 * wire_serve_conn - serve one connected MTA socket with desc until the MTA
 * quits or goes away, then close it (what each worker does; tests and the
 * fuzz target call it directly).
 */
void wire_serve_conn(int fd, const struct smfiDesc *desc);

/* wire_stop - no new connections; wire_serve() returns. Connections in progress go on. */
void wire_stop(void);

/* wire_io - the side effects (headers, replies, macros) on a wire connection */
const struct milter_io *wire_io(void);

#endif
