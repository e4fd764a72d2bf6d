/*
 * Ring 3: the guest agent's commands.  QEMU's guest-sync,
 * guest-sync-delimited, guest-ping, guest-info and guest-get-time, and
 * ferry's test commands:
 *   x-guest-echo {data}   returns {"data": data} as it came
 *   x-guest-sleep {ms}    returns {} after @ms, answering others meanwhile
 *   x-guest-incr {key}    returns the counter's new value: a request that
 *                         ran twice shows as a count above the calls made
 */
#include "guest/agent-int.h"
#include "guest/kernel.h"

#define MAX_SLEEP_MS 600000ull

typedef enum cmd_result CmdFn(struct agent *a, struct jtok args,
                              struct jtok id, char *buf, uint32_t size);

static enum cmd_result fail(char *buf, uint32_t size, const char *why)
{
    snprintf(buf, size, "%s", why);
    return CMD_ERROR;
}

/* guest-sync {"id": N}: returns N, so the host knows the stream is in
 * step from here on. */
static enum cmd_result cmd_sync(struct agent *a, struct jtok args,
                                struct jtok id, char *buf, uint32_t size)
{
    struct jtok v;
    uint64_t n;

    if (!json_member(args, "id", &v) || !json_u64(v, &n)) {
        return fail(buf, size, "guest-sync needs an integer id");
    }
    snprintf(buf, size, "%lu", n);
    return CMD_RETURN;
}

static enum cmd_result cmd_sync_delimited(struct agent *a, struct jtok args,
                                          struct jtok id, char *buf,
                                          uint32_t size)
{
    enum cmd_result r = cmd_sync(a, args, id, buf, size);

    return r == CMD_RETURN ? CMD_SYNC_DELIMITED : r;
}

static enum cmd_result cmd_ping(struct agent *a, struct jtok args,
                                struct jtok id, char *buf, uint32_t size)
{
    snprintf(buf, size, "{}");
    return CMD_RETURN;
}

/* The guest has no wall clock: nanoseconds since boot, from the TSC. */
static enum cmd_result cmd_get_time(struct agent *a, struct jtok args,
                                    struct jtok id, char *buf, uint32_t size)
{
    snprintf(buf, size, "%lu", a->now_ns);
    return CMD_RETURN;
}

static enum cmd_result cmd_echo(struct agent *a, struct jtok args,
                                struct jtok id, char *buf, uint32_t size)
{
    struct jtok data;

    if (!json_member(args, "data", &data)) {
        return fail(buf, size, "x-guest-echo needs data");
    }
    if (data.len + 16 > size) {
        return fail(buf, size, "x-guest-echo: data too large");
    }
    snprintf(buf, size, "{\"data\": %.*s}", (int)data.len, data.p);
    return CMD_RETURN;
}

static enum cmd_result cmd_sleep(struct agent *a, struct jtok args,
                                 struct jtok id, char *buf, uint32_t size)
{
    struct jtok v;
    uint64_t ms;

    if (!json_member(args, "ms", &v) || !json_u64(v, &ms) ||
        ms > MAX_SLEEP_MS) {
        return fail(buf, size, "x-guest-sleep needs ms (0-600000)");
    }
    for (unsigned i = 0; i < AGENT_SLEEPS; i++) {
        struct sleeper *s = &a->sleeps[i];

        if (!s->used) {
            *s = (struct sleeper){ .used = 1, .id_len = id.len,
                                   .start_ns = a->now_ns, .ms = ms };
            memcpy(s->id, id.p, id.len);
            return CMD_LATER;
        }
    }
    return fail(buf, size, "x-guest-sleep: too many sleeps");
}

static struct counter *counter_of(struct agent *a, struct jtok key)
{
    struct counter *free_slot = 0;

    for (unsigned i = 0; i < AGENT_COUNTERS; i++) {
        struct counter *c = &a->counters[i];

        if (c->used && c->key_len == key.len &&
            !memcmp(c->key, key.p, key.len)) {
            return c;
        }
        if (!c->used && !free_slot) {
            free_slot = c;
        }
    }
    if (free_slot) {
        *free_slot = (struct counter){ .used = 1, .key_len = key.len };
        memcpy(free_slot->key, key.p, key.len);
    }
    return free_slot;
}

static enum cmd_result cmd_incr(struct agent *a, struct jtok args,
                                struct jtok id, char *buf, uint32_t size)
{
    struct jtok v, key;
    struct counter *c;

    if (!json_member(args, "key", &v) || !json_str_raw(v, &key) ||
        key.len > AGENT_KEY_MAX) {
        return fail(buf, size, "x-guest-incr needs a key (a string)");
    }
    if (!(c = counter_of(a, key))) {
        return fail(buf, size, "x-guest-incr: too many counters");
    }
    snprintf(buf, size, "%lu", ++c->value);
    return CMD_RETURN;
}

static enum cmd_result cmd_info(struct agent *a, struct jtok args,
                                struct jtok id, char *buf, uint32_t size);

static const struct {
    const char *name;
    CmdFn *fn;
} cmds[] = {
    { "guest-sync", cmd_sync },
    { "guest-sync-delimited", cmd_sync_delimited },
    { "guest-ping", cmd_ping },
    { "guest-info", cmd_info },
    { "guest-get-time", cmd_get_time },
    { "x-guest-echo", cmd_echo },
    { "x-guest-sleep", cmd_sleep },
    { "x-guest-incr", cmd_incr },
};

static enum cmd_result cmd_info(struct agent *a, struct jtok args,
                                struct jtok id, char *buf, uint32_t size)
{
    uint32_t n = (uint32_t)snprintf(buf, size, "{\"version\": \"ferry-guest "
                                    "1\", \"supported_commands\": [");

    for (unsigned i = 0; i < sizeof(cmds) / sizeof(cmds[0]) && n < size; i++) {
        n += (uint32_t)snprintf(buf + n, size - n, "%s{\"name\": \"%s\", "
                                "\"enabled\": true}", i ? ", " : "",
                                cmds[i].name);
    }
    if (n + 3 > size) {
        return fail(buf, size, "guest-info: reply too large");
    }
    snprintf(buf + n, size - n, "]}");
    return CMD_RETURN;
}

enum cmd_result agent_run(struct agent *a, struct jtok cmd, struct jtok args,
                          struct jtok id, char *buf, uint32_t size)
{
    for (unsigned i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
        if (json_str_is(cmd, cmds[i].name)) {
            return cmds[i].fn(a, args, id, buf, size);
        }
    }
    return fail(buf, size, "unknown command");
}

/* A clock that went backwards (another host's TSC) restarts the wait
 * rather than stretching it. */
void agent_run_timers(struct agent *a)
{
    for (unsigned i = 0; i < AGENT_SLEEPS; i++) {
        struct sleeper *s = &a->sleeps[i];

        if (!s->used) {
            continue;
        }
        if (AGENT_OUTQ - a->outq_len < AGENT_REPLY_MAX) {
            return;     /* no room for the reply: next tick */
        }
        if (a->now_ns < s->start_ns) {
            s->start_ns = a->now_ns;
        }
        if (a->now_ns - s->start_ns >= s->ms * 1000000ull) {
            s->used = 0;
            agent_complete(a, (struct jtok){ s->id, s->id_len }, "{}");
        }
    }
}
