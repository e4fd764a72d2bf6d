/*
 * The bridge's states and the one table of transitions between them
 * (docs/agent.md draws it).  agent_set_state_locked() is the only writer.
 */
#include "agent-int.h"

#define S(x) FERRY_AGENT_STATE_##x

static const struct {
    FerryAgentState from, to;
} transitions[] = {
    { S(NORMAL), S(MIGRATING) },        /* set_migrating(true) */
    { S(MIGRATING), S(RESUMED) },       /* resume_on_conn() */
    { S(RESUMED), S(RESUMED) },         /* another swap (a recovery) */
    { S(RESUMED), S(MIGRATING) },       /* it failed again, or a new move */
    { S(MIGRATING), S(NORMAL) },        /* set_migrating(false), alive */
    { S(RESUMED), S(NORMAL) },          /* set_migrating(false) */
    { S(NORMAL), S(CLOSED) },           /* close, fatal failure, timeout */
    { S(MIGRATING), S(CLOSED) },        /* close, timeout, parked at end */
    { S(RESUMED), S(CLOSED) },
};

static const char *const names[] = {
    [S(NORMAL)] = "normal",
    [S(MIGRATING)] = "migrating",
    [S(RESUMED)] = "resumed",
    [S(CLOSED)] = "closed",
};

const char *ferry_agent_state_name(FerryAgentState s)
{
    return s < S(_MAX) ? names[s] : "invalid";
}

bool agent_set_state_locked(FerryAgent *a, FerryAgentState to)
{
    for (gsize i = 0; i < G_N_ELEMENTS(transitions); i++) {
        if (transitions[i].from == a->state && transitions[i].to == to) {
            a->state = to;
            return true;
        }
    }
    return false;
}
