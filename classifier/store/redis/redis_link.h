/*
 * redis_link.h - one connection to the Redis servers of a bayes_redis_options:
 * connecting with bounded time, AUTH and SELECT, dropping a connection
 * that failed and making a new one on the next call, commands with a
 * bounded wait for their reply, and pipelines.
 *
 * A link of a writer talks to the first server of the list only (the
 * primary). A read-only link falls back to the next servers (replicas)
 * when the primary cannot be reached, and tries the primary again now and
 * then (REDIS_LINK_PRIMARY_RETRY_S).
 *
 * hiredis writes with write(2): a program using links must ignore
 * SIGPIPE (bayesd and bayesc do), or a peer that closed the connection
 * kills it.
 *
 * Replies are hiredis' redisReply; the caller frees them with
 * freeReplyObject(). Errors are one line in redis_link_error().
 *
 * Rooms: may use store/, util.h and types.h only.
 */
#ifndef BAYES_REDIS_LINK_H
#define BAYES_REDIS_LINK_H

#include <stdbool.h>
#include <stddef.h>

#include <hiredis/hiredis.h>

#include "types.h"

#define REDIS_LINK_MAX_SERVERS		8
#define REDIS_LINK_PRIMARY_RETRY_S	30

struct redis_link;

/*
 * redis_link_new - a link for o (copied), not yet connected. NULL with a
 * reason in err when the server list does not parse.
 */
struct redis_link *redis_link_new(const struct bayes_redis_options *o, bool readonly,
				  char *err, size_t errlen);
void redis_link_free(struct redis_link **l);

/*
 * redis_link_ready - connect unless connected. Returns 1 on a new
 * connection (the caller checks what it must check once per connection),
 * 0 when the connection was there, -1 when no server could be reached.
 */
int redis_link_ready(struct redis_link *l);

/*
 * redis_link_generation - a number that changes with every new
 * connection, so a caller can tell whether its per-connection checks
 * still hold.
 */
unsigned redis_link_generation(const struct redis_link *l);

/*
 * redis_link_argv - one command; its reply, or NULL on an I/O error or
 * timeout (the connection is dropped: its stream can no longer be
 * trusted). A connection found closed by the server when the command was
 * sent (a Redis restart since the last call) is replaced and the command
 * sent once more. An error reply is a reply (type REDIS_REPLY_ERROR).
 */
redisReply *redis_link_argv(struct redis_link *l, int argc, const char **argv, const size_t *argvlen);

/*
 * redis_link_pipeline - n commands sent at once, their n replies into
 * replies[0..n) (one round trip). true, or false with every reply freed
 * and the connection dropped. Replayed like redis_link_argv; only
 * idempotent commands (reads, conditional writes) belong in it.
 */
bool redis_link_pipeline(struct redis_link *l, int n, const int *argc, const char *const *const *argv,
			 const size_t *const *argvlen, redisReply **replies);

/*
 * redis_link_append/collect - a long pipeline of writes (restore): append
 * commands to the open connection's output, then collect the replies of
 * the n appended since the last collect. collect returns false on an
 * I/O error (connection dropped) or when a reply was an error (the first
 * one in redis_link_error()). Neither reconnects: a pipeline that lost
 * its connection lost its place.
 */
bool redis_link_append(struct redis_link *l, int argc, const char **argv, const size_t *argvlen);
bool redis_link_collect(struct redis_link *l, int n);

/* redis_link_drop - close the connection (the next call makes a new one). */
void redis_link_drop(struct redis_link *l);

/* redis_link_error - why the last call failed ("redis 127.0.0.1:6379: ..."). */
const char *redis_link_error(const struct redis_link *l);

/* redis_link_server - "host:port" of the connection, or of the primary when down. */
const char *redis_link_server(const struct redis_link *l);

#endif
