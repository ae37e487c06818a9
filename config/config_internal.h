/*
 * config_internal.h - what the configuration's two files share: the
 * reader (config.c: lines, quotes, includes, bayesd.conf.d, aliases, the
 * reference count) and the key table (config_keys.c: every key, its
 * parsing, range, default and printing); the unit tests
 * (tests/unit/test_config.c) walk the table through it too.
 * For config/ and the unit tests only; programs use config.h.
 */
#ifndef BAYESD_CONFIG_INTERNAL_H
#define BAYESD_CONFIG_INTERNAL_H

#include <stddef.h>

/* the longest line of a config or alias file, without its newline */
#define CONFIG_LINE_MAX	4096

#include <stdbool.h>

#include "config.h"

/* one key of the table (config_keys.c) */
struct config_row;

/* config_find - the row of key, or NULL when bayesd has no such key */
const struct config_row *config_find(const char *key);

/* config_key_name - the name of the i-th key of the table, NULL past the last */
const char *config_key_name(size_t i);

/*
 * config_set - parse value for row into c. Returns false with the reason
 * (without file and line) in why.
 */
bool config_set(struct bayesd_config *c, const struct config_row *row, const char *value,
		char *why, size_t whylen);

/* config_defaults - every row's default into c */
void config_defaults(struct bayesd_config *c);

/* config_free - free c and what it owns (config_unref does, at the last reference) */
void config_free(struct bayesd_config *c);

#endif
