/*
 * fuzz.h - what every libFuzzer target in tests/fuzz/ shares.
 *
 * Each fuzz_<name>.c defines LLVMFuzzerTestOneInput() (and may define
 * LLVMFuzzerInitialize()). The same object is linked either with libFuzzer
 * (make fuzz, clang -fsanitize=fuzzer) or with replay.c, a small main that
 * feeds it every file of the seed and regression folders (make check).
 * A target reports a broken contract with fuzz_fail(), which aborts, so
 * libFuzzer keeps the input and the replay fails.
 */
#ifndef BAYES_FUZZ_H
#define BAYES_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* fuzz_fail - report a broken contract (what, where) and abort. */
void fuzz_fail(const char *what, const char *where) __attribute__((noreturn));

/* fuzz_check_utf8 - abort unless s[0..n) is valid UTF-8 with s[n] == '\0'. */
void fuzz_check_utf8(const char *s, size_t n, const char *where);

#endif
