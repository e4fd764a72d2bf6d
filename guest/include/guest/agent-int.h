/*
 * The guest agent's state, shared by guest/agent.c (lines, the id table,
 * output) and guest/agent-cmds.c (the commands).  All of it is one struct
 * in guest RAM.
 */
#ifndef GUEST_AGENT_INT_H
#define GUEST_AGENT_INT_H

#include "guest/agent.h"
#include "guest/json-scan.h"
#include "guest/pvchan.h"

#define AGENT_CHANNEL    "org.qemu.guest_agent.0"
#define AGENT_RING       (64u << 10)
#define AGENT_LINE_MAX   4096u
#define AGENT_IDS        128u
#define AGENT_ID_MAX     48u
#define AGENT_REPLY_MAX  1024u      /* a reply line, stored per id */
#define AGENT_SLEEPS     64u
#define AGENT_COUNTERS   64u
#define AGENT_KEY_MAX    32u
#define AGENT_OUTQ       (16u << 10)

enum id_state { ID_FREE, ID_RUNNING, ID_DONE };

/* A request id seen recently, and its reply once there is one. */
struct id_entry {
    uint32_t state;
    uint32_t id_len;
    uint64_t seq;                   /* when it last changed: LRU */
    char id[AGENT_ID_MAX];
    uint32_t reply_len;
    char reply[AGENT_REPLY_MAX];
};

struct sleeper {
    uint32_t used;
    uint32_t id_len;
    char id[AGENT_ID_MAX];
    uint64_t start_ns, ms;
};

struct counter {
    uint32_t used;
    uint32_t key_len;
    char key[AGENT_KEY_MAX];
    uint64_t value;
};

struct agent {
    struct pvchan ch;
    uint64_t now_ns;
    uint64_t seq;
    uint64_t requests, replays;
    uint32_t line_len;
    uint32_t overlong;              /* discarding up to the next newline */
    char line[AGENT_LINE_MAX];
    uint32_t outq_head, outq_len;
    char outq[AGENT_OUTQ];
    struct id_entry ids[AGENT_IDS];
    struct sleeper sleeps[AGENT_SLEEPS];
    struct counter counters[AGENT_COUNTERS];
    agent_log_fn log;
    void *log_opaque;
};

/*
 * What a command produced: a reply now ("return" value or error), or
 * later (a sleep).  The reply text is written into @buf.
 */
enum cmd_result { CMD_RETURN, CMD_ERROR, CMD_LATER, CMD_SYNC_DELIMITED };

/* Runs command @cmd; the "return" value (or error description) goes to
 * @buf.  @id is the request's id (for sleeps). */
enum cmd_result agent_run(struct agent *a, struct jtok cmd, struct jtok args,
                          struct jtok id, char *buf, uint32_t size);
/* Finishes the sleeps that are due (agent-cmds.c). */
void agent_run_timers(struct agent *a);
/* A finished sleep's reply (agent.c). */
void agent_complete(struct agent *a, struct jtok id, const char *ret);

#endif
