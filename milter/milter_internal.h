/*
 * milter_internal.h - the milter's private parts that its unit tests
 * (tests/unit/test_milter.c) reach. For milter.c, milter_pool.c and the
 * unit tests only: no other part of bayesd includes this header.
 */
#ifndef BAYESD_MILTER_INTERNAL_H
#define BAYESD_MILTER_INTERNAL_H

#include "bayes.h"
#include "config.h"

/* milter_engine_options - the engine options a config asks for (the ones
 * the milter's read-only handles are opened with) */
void milter_engine_options(const struct bayesd_config *cfg, struct bayes_options *o);

#endif
