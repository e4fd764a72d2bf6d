/*
 * Option arguments in QEMU's syntax, one parser for every option:
 *
 *   driver=file,filename=a,,b.img   key=value pairs; ",," in a value is a
 *                                   comma; one trailing comma is allowed
 *   cache.direct=on                 a dotted key names a member of a
 *                                   nested group ("cache")
 *   4G,slots=2                      with an implied key (the caller's, e.g.
 *                                   "size" for -m), the first item may omit
 *                                   "key=" if it has no '=' before its ','
 *   {"driver": "file", ...}         an argument starting with '{' is JSON
 *                                   (QMP's rules): an object whose nested
 *                                   objects are the groups, as libvirt
 *                                   sends -blockdev and -device
 *
 * Each part of a key starts with a letter, then letters, digits, '-' or
 * '_' (QAPI names; no list indices), and a key has at most 16 parts.  A
 * key given twice is refused, and so is one used both as a value and as a
 * group ("a=1,a.b=2").  Values are
 * strings: a JSON number or boolean keeps its JSON text ("4096", "true"),
 * so the typed getters read both forms alike; JSON null and arrays are
 * refused.
 *
 * Errors name the key; the caller prefixes the option as the user typed
 * it ("-m: ", "--m: ", "-blockdev: "), which only it knows.
 */
#ifndef FERRY_UTIL_KEYVAL_H
#define FERRY_UTIL_KEYVAL_H

#include <glib.h>
#include <json-glib/json-glib.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct Keyval Keyval;

/* Parses @text; @implied_key may be NULL (-blockdev has none). */
Keyval *keyval_parse(const char *text, const char *implied_key,
                     GError **errp);
void keyval_free(Keyval *kv);
/* A JSON object as the same tree (lists become groups keyed by index). */
Keyval *keyval_from_json(JsonObject *obj, GError **errp);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Keyval, keyval_free)

/*
 * QEMU's boolean words (qapi_bool_parse): on/yes/true/y and off/no/false/n,
 * lower case.  @key names the value in the error.
 */
bool keyval_parse_bool(const char *key, const char *value, bool *out,
                       GError **errp);

/*
 * The getters take a dotted @key.  An absent key is not an error: *@out
 * gets @dflt (NULL for strings).  A group where a value is expected, or a
 * value that does not parse, is.
 */
bool keyval_get_str(const Keyval *kv, const char *key, const char **out,
                    GError **errp);
bool keyval_get_bool(const Keyval *kv, const char *key, bool dflt, bool *out,
                     GError **errp);
/* Decimal digits only, no sign. */
bool keyval_get_u64(const Keyval *kv, const char *key, uint64_t dflt,
                    uint64_t *out, GError **errp);
/* Bytes, or with a K/M/G/T suffix (util/size.h). */
bool keyval_get_size(const Keyval *kv, const char *key, uint64_t dflt,
                     uint64_t *out, GError **errp);

/*
 * One of the NULL-terminated @values: *@out is its index, or @dflt when
 * the key is absent.  The error lists the accepted words.
 */
bool keyval_get_enum(const Keyval *kv, const char *key,
                     const char *const *values, int dflt, int *out,
                     GError **errp);
/*
 * An identifier, as QEMU's ids (-chardev id=, -object id=): a letter,
 * then letters, digits, '-', '.' or '_'.  Absent: *@out is NULL.
 */
bool keyval_id_well_formed(const char *id);
bool keyval_get_id(const Keyval *kv, const char *key, const char **out,
                   GError **errp);

/*
 * Refuses the first value (in input order) whose dotted key is not in the
 * NULL-terminated @known, listing @known in the error.
 */
bool keyval_check_known(const Keyval *kv, const char *const *known,
                        GError **errp);

/*
 * Calls @fn for each value, in input order, with its dotted key; for
 * callers that print or re-emit an option (tests, the fuzzer).
 */
typedef void KeyvalFn(const char *key, const char *value, void *opaque);
void keyval_foreach(const Keyval *kv, KeyvalFn *fn, void *opaque);

#endif
