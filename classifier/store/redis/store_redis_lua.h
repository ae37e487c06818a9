/*
 * store_redis_lua.h - the Lua scripts the Redis backend runs on the server
 * (store_redis_lua.c). Each runs atomically there: no other client's
 * command comes in between, which is what makes a learn atomic across
 * nodes without locks.
 */
#ifndef BAYES_STORE_REDIS_LUA_H
#define BAYES_STORE_REDIS_LUA_H

enum redis_script {
	REDIS_SCRIPT_COMMIT,		/* check a transaction's reads, apply its writes */
	REDIS_SCRIPT_USER,		/* the id of a user name, created when missing */
	REDIS_SCRIPT_DELETE_IF,		/* delete hash fields that still hold a value */
	REDIS_SCRIPT_MAX
};

extern const char *const redis_script_text[REDIS_SCRIPT_MAX];

#endif
