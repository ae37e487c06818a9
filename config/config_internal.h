/*
 * config_internal.h - config.c's private parts that the unit tests
 * (tests/unit/test_config.c) reach: the line limit and the key table.
 * For config/ and the unit tests only; programs use config.h.
 */
#ifndef BAYESD_CONFIG_INTERNAL_H
#define BAYESD_CONFIG_INTERNAL_H

#include <stddef.h>

/* the longest line of a config or alias file, without its newline */
#define CONFIG_LINE_MAX	4096

/* one key of the table (config.c) */
struct config_row;

/* config_find - the row of key, or NULL when bayesd has no such key */
const struct config_row *config_find(const char *key);

/* config_key_name - the name of the i-th key of the table, NULL past the last */
const char *config_key_name(size_t i);

#endif
