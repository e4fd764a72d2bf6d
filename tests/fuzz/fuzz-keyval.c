/*
 * libFuzzer target for the option parser (util/keyval.h): the first byte
 * of an input picks the implied key (none or "driver"), the rest up to a
 * NUL is the option argument, key=value or JSON.
 *
 * Besides crashes, sanitizer reports, leaks and GLib warnings (made
 * fatal), these rules abort:
 *  - a refusal says why (a non-empty GError); a success sets no GError;
 *  - an accepted option, written back as key=value text (dotted keys,
 *    commas doubled), parses to the same keys and values in the same
 *    order, with no implied key;
 *  - every getter on every key answers with a value or an error, never
 *    both or neither;
 *  - the unknown-key check accepts the option's own keys, and refuses a
 *    non-empty option when no key is known.
 * FUZZ_VERBOSE=1 prints each input's outcome.
 *
 * Built and run by `make fuzz` (see the fuzzing block of the Makefile).
 */
#include <stdlib.h>
#include <string.h>
#include "fuzz-outcome.h"
#include "util/keyval.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define broken(text, ...) fuzz_broken("fuzz-keyval", (text), __VA_ARGS__)

static void check_outcome(const char *text, bool ok, GError *err)
{
    fuzz_check_outcome("fuzz-keyval", text, ok, err, false);
}

/* The parse as the key=value text that must parse to it again. */
static void write_back(const char *key, const char *value, void *opaque)
{
    GString *out = opaque;
    g_auto(GStrv) parts = g_strsplit(value, ",", -1);
    g_autofree char *escaped = g_strjoinv(",,", parts);

    g_string_append_printf(out, "%s%s=%s", out->len ? "," : "", key, escaped);
}

static void list_key(const char *key, const char *value, void *opaque)
{
    g_ptr_array_add(opaque, g_strdup(key));
}

static void check_getters(const char *text, const Keyval *kv,
                          const char *key)
{
    GError *err = NULL;
    const char *s;
    uint64_t n;
    bool b, ok;

    ok = keyval_get_str(kv, key, &s, &err);
    check_outcome(text, ok && s, err);
    ok = keyval_get_bool(kv, key, false, &b, &err);
    check_outcome(text, ok, err);
    g_clear_error(&err);
    ok = keyval_get_u64(kv, key, 0, &n, &err);
    check_outcome(text, ok, err);
    g_clear_error(&err);
    ok = keyval_get_size(kv, key, 0, &n, &err);
    check_outcome(text, ok, err);
    g_clear_error(&err);
}

static void check_accepted(const char *text, const Keyval *kv)
{
    static const char *const none[] = { NULL };
    g_autoptr(GString) again = g_string_new(NULL);
    g_autoptr(GString) back = g_string_new(NULL);
    g_autoptr(GPtrArray) keys = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(Keyval) kv2 = NULL;
    GError *err = NULL;

    keyval_foreach(kv, write_back, back);
    kv2 = keyval_parse(back->str, NULL, &err);
    if (!kv2) {
        broken(text, "written back as '%s', refused: %s", back->str,
               err->message);
    }
    keyval_foreach(kv2, write_back, again);
    if (strcmp(back->str, again->str)) {
        broken(text, "written back as '%s', parses to '%s'", back->str,
               again->str);
    }
    keyval_foreach(kv, list_key, keys);
    for (guint i = 0; i < keys->len; i++) {
        check_getters(text, kv, g_ptr_array_index(keys, i));
    }
    g_ptr_array_add(keys, NULL);
    if (!keyval_check_known(kv, (const char *const *)keys->pdata, &err)) {
        broken(text, "its own keys are unknown: %s", err->message);
    }
    if (keys->len > 1 && keyval_check_known(kv, none, NULL)) {
        broken(text, "no key is known, yet all are accepted");
    }
}

/* Before GLib's first allocation, as in fuzz-blockdev.c. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    setenv("G_SLICE", "always-malloc", 1);
    g_log_set_always_fatal(G_LOG_LEVEL_WARNING | G_LOG_LEVEL_CRITICAL);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *implied = size && (data[0] & 1) ? "driver" : NULL;
    g_autofree char *text = size ? g_strndup((const char *)data + 1,
                                             size - 1) : g_strdup("");
    GError *err = NULL;
    g_autoptr(Keyval) kv = keyval_parse(text, implied, &err);

    fuzz_check_outcome("fuzz-keyval", text, kv != NULL, err,
                       getenv("FUZZ_VERBOSE") != NULL);
    if (kv) {
        check_accepted(text, kv);
    }
    g_clear_error(&err);
    return 0;
}
