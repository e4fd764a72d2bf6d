/*
 * The tree behind include/util/keyval.h, shared by its three files:
 * keyval.c (the tree and the key=value form), keyval-json.c (the JSON
 * form) and keyval-get.c (the typed getters).
 */
#ifndef FERRY_UTIL_KEYVAL_INT_H
#define FERRY_UTIL_KEYVAL_INT_H

#include "util/keyval.h"

/* Parts of one key at most ("a.b.c" has 3): the tree is walked and freed
 * recursively, and no option nests deeper than a few levels. */
#define KEYVAL_MAX_DEPTH 16

/* One member of a group: a value or a nested group, never both. */
typedef struct KeyvalMember {
    char *name;                 /* one part of a key, no dots */
    char *value;
    Keyval *group;
} KeyvalMember;

struct Keyval {
    GPtrArray *members;         /* of KeyvalMember, in input order */
};

Keyval *keyval_new(void);

/* True if @len bytes at @name are one valid part of a key. */
bool keyval_name_ok(const char *name, size_t len);

/* Refuses a dotted @key of more than KEYVAL_MAX_DEPTH parts. */
bool keyval_depth_ok(const char *key, GError **errp);

/* The member @name of @kv itself (no dots), or NULL. */
KeyvalMember *keyval_member(const Keyval *kv, const char *name);

/* Appends a member; the caller has checked that @name is new. */
KeyvalMember *keyval_append(Keyval *kv, const char *name, char *value,
                            Keyval *group);

/* The member a dotted @key names, or NULL. */
const KeyvalMember *keyval_lookup(const Keyval *kv, const char *key);

/* keyval_foreach that stops at the first call returning false. */
typedef bool KeyvalWalkFn(const char *key, const char *value, void *opaque);
bool keyval_walk(const Keyval *kv, KeyvalWalkFn *fn, void *opaque);

/* The JSON form, @text starting with '{' (keyval-json.c). */
Keyval *keyval_parse_json(const char *text, GError **errp);

#endif
