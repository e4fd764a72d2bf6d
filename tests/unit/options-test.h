/*
 * Helpers for the command-line parser's tests (test-options*.c): parse
 * "ferry ARGS...", expect success or an exact error.
 */
#ifndef FERRY_TESTS_OPTIONS_TEST_H
#define FERRY_TESTS_OPTIONS_TEST_H

#include <string.h>
#include "system/machine.h"
#include "util/error.h"

#define MiB (1ULL << 20)
#define GiB (1ULL << 30)

/* Parses "ferry ARGS..." into a fresh @cfg. */
#define PARSE(cfg, errp, ...) \
    parse_argv((cfg), (errp), (const char *[]){ "ferry", __VA_ARGS__, NULL })

static inline bool parse_argv(MachineConfig *cfg, GError **errp,
                              const char **args)
{
    int argc = 0;

    while (args[argc]) {
        argc++;
    }
    machine_config_init(cfg);
    return machine_parse_options(argc, (char **)args, cfg, errp);
}

/* Parses and expects success. */
#define ACCEPT(cfg, ...) do {                                   \
        g_autoptr(GError) err_ = NULL;                          \
        bool ok_ = PARSE((cfg), &err_, __VA_ARGS__);            \
        g_assert_no_error(err_);                                \
        g_assert_true(ok_);                                     \
    } while (0)

/* Parses, expects failure with a message starting with @prefix. */
#define REJECT(prefix, ...) do {                                \
        MachineConfig cfg_;                                     \
        g_autoptr(GError) err_ = NULL;                          \
        bool ok_ = PARSE(&cfg_, &err_, __VA_ARGS__);            \
        g_assert_false(ok_);                                    \
        g_assert_error(err_, FERRY_ERROR, FERRY_ERROR_GENERIC); \
        if (!g_str_has_prefix(err_->message, (prefix))) {       \
            g_error("expected '%s...', got '%s'", (prefix),     \
                    err_->message);                             \
        }                                                       \
        machine_config_clear(&cfg_);                            \
    } while (0)

/* One command line and what the parser must say: NULL accepts it. */
typedef struct OptionCase {
    const char *args[16];       /* after "ferry", up to a NULL */
    const char *error;          /* the whole message */
} OptionCase;

static inline void run_option_cases(const OptionCase *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const char *argv[18] = { "ferry" };
        MachineConfig cfg;
        g_autoptr(GError) err = NULL;
        bool ok;

        memcpy(argv + 1, cases[i].args, sizeof(cases[i].args));
        ok = parse_argv(&cfg, &err, argv);
        if (cases[i].error) {
            if (ok) {
                g_error("case %zu (%s %s): accepted, expected '%s'", i,
                        argv[1], argv[2] ? argv[2] : "", cases[i].error);
            }
            g_assert_cmpstr(err->message, ==, cases[i].error);
        } else if (!ok) {
            g_error("case %zu (%s %s): refused: %s", i, argv[1],
                    argv[2] ? argv[2] : "", err->message);
        }
        machine_config_clear(&cfg);
    }
}

#endif
