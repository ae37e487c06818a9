/*
 * redis_server.h - a real redis-server for the unit tests, started on a
 * free loopback port the first time a test asks for it and stopped at
 * exit. Where redis-server is not installed the Redis halves of the
 * tests are skipped with a note (CI installs it).
 */
#ifndef TEST_REDIS_SERVER_H
#define TEST_REDIS_SERVER_H

#include <stdbool.h>

/* redis_server_port - the port of the test's redis-server, or 0 when there is none. */
int redis_server_port(void);

/* redis_server_skip - print the SKIP note for test once; true when Redis is missing. */
bool redis_server_skip(const char *test);

#endif
