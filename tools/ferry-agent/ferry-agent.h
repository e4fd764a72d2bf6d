/* ferry-agent, the command-line client of libferry-agent: shared bits. */
#ifndef FERRY_TOOLS_AGENT_H
#define FERRY_TOOLS_AGENT_H

#include "ferry/agent.h"

typedef struct LoadOptions {
    unsigned inflight;          /* calls kept in flight */
    unsigned sleep_ms;          /* x-guest-sleep's length */
    unsigned keys;              /* x-guest-incr counters */
    unsigned timeout_ms;        /* per call */
} LoadOptions;

/* `ferry-agent load`: runs until "stop" on stdin (see load.c). */
int agent_load_run(FerryAgent *a, const LoadOptions *o);

#endif
