/*
 * The rule every option fuzzer (fuzz-blockdev.c, fuzz-keyval.c) checks of
 * each parse, and how a fuzzer stops on a broken rule: a message naming
 * the fuzzer and the input, then abort(), which libFuzzer reports as a
 * crash and saves the input of.
 */
#ifndef FERRY_TESTS_FUZZ_OUTCOME_H
#define FERRY_TESTS_FUZZ_OUTCOME_H

#include <stdbool.h>
#include <glib.h>

void fuzz_broken(const char *fuzzer, const char *input, const char *fmt, ...)
    G_GNUC_PRINTF(3, 4) G_GNUC_NORETURN;

/*
 * A refusal says why (a non-empty GError), a success sets no GError;
 * with @verbose, prints the outcome.
 */
void fuzz_check_outcome(const char *fuzzer, const char *input, bool ok,
                        const GError *err, bool verbose);

/*
 * The descriptors open below @below: descriptors are handed out lowest
 * first, so a leak shows there.  For the leak checks across an input.
 */
int fuzz_open_fds(int below);

#endif
