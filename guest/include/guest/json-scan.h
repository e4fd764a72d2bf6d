/*
 * Just enough JSON for the guest agent: find a member of an object and
 * read a string or a number, without copying or allocating.  Values are
 * raw text (struct jtok), so the agent can echo one back as it came.
 */
#ifndef GUEST_JSON_SCAN_H
#define GUEST_JSON_SCAN_H

#include <stdbool.h>
#include <stdint.h>

struct jtok {
    const char *p;
    uint32_t len;
};

/* Length of the one JSON value at the start of [p, end), 0 if malformed. */
uint32_t json_value_len(const char *p, const char *end);
/* The value of member @key of object @obj. */
bool json_member(struct jtok obj, const char *key, struct jtok *val);
/* @v is the string @s (no escapes). */
bool json_str_is(struct jtok v, const char *s);
/* The contents of string @v (between the quotes, escapes left as they are). */
bool json_str_raw(struct jtok v, struct jtok *inner);
/* @v is a non-negative integer. */
bool json_u64(struct jtok v, uint64_t *out);
/* @t without the white space around it. */
struct jtok json_trim(struct jtok t);

#endif
