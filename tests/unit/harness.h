/*
 * harness.h - a small table-driven unit test harness.
 *
 * TEST(name) { ... } defines and registers a test (a constructor adds it to
 * the list main() runs, so test files need no central table). CHECK(cond)
 * records a failure with its location and goes on; REQUIRE(cond) returns
 * from the test. Golden files: check_golden(name, text) compares text with
 * tests/golden/NAME (UPDATE_GOLDEN=1 in the environment rewrites it).
 */
#ifndef TEST_HARNESS_H
#define TEST_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

typedef void (*test_fn)(void);
void test_register(const char *name, test_fn fn);
void test_fail(const char *file, int line, const char *expr);
void test_failf(const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define TEST(name) \
	static void test_##name(void); \
	__attribute__((constructor)) static void test_reg_##name(void) \
	{ test_register(#name, test_##name); } \
	static void test_##name(void)

#define CHECK(cond) do { if (!(cond)) test_fail(__FILE__, __LINE__, #cond); } while (0)
#define REQUIRE(cond) do { if (!(cond)) { test_fail(__FILE__, __LINE__, #cond); return; } } while (0)
#define CHECK_STR(a, b) do { const char *a_ = (a), *b_ = (b); \
	if (!a_ || !b_ || strcmp(a_, b_) != 0) \
		test_failf(__FILE__, __LINE__, "%s == \"%s\", expected \"%s\"", #a, a_ ? a_ : "(null)", b_ ? b_ : "(null)"); \
	} while (0)
#define CHECK_MEM(a, alen, b, blen) do { size_t al_ = (alen), bl_ = (blen); \
	if (al_ != bl_ || memcmp((a), (b), al_) != 0) \
		test_failf(__FILE__, __LINE__, "%s: %zu bytes \"%.*s\", expected %zu bytes \"%.*s\"", #a, \
			   al_, (int)al_, (const char *)(a), bl_, (int)bl_, (const char *)(b)); \
	} while (0)
#define CHECK_NEAR(a, b, eps) do { double a_ = (a), b_ = (b); \
	if (!(a_ - b_ <= (eps) && b_ - a_ <= (eps))) \
		test_failf(__FILE__, __LINE__, "%s == %.12g, expected %.12g", #a, a_, b_); \
	} while (0)

/*
 * test_skip - mark the running test skipped (why: printed): it counts as
 * skipped, never as passed, in the closing "N passed, N failed, N skipped".
 */
void test_skip(const char *name, const char *why);

/* check_golden - compare text with tests/golden/name; see above. */
void check_golden(const char *file, int line, const char *name, const char *text, size_t len);
#define CHECK_GOLDEN(name, text, len) check_golden(__FILE__, __LINE__, (name), (text), (len))

/* test_tmpdir - a fresh directory for this test run (removed at exit). */
const char *test_tmpdir(void);

/*
 * test_slurp - the whole file at path, NUL-terminated (free it), its
 * length in *n_r; NULL when it cannot be opened.
 */
char *test_slurp(const char *path, size_t *n_r);

#endif
