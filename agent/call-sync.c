/* ferry_agent_call(): a call and a wait for its one completion. */
#include "agent-int.h"

typedef struct Waiter {
    GMutex lock;
    GCond cond;
    bool done;
    JsonNode *ret;
    GError *err;
} Waiter;

static void wake_waiter(void *opaque, JsonNode *ret, const GError *error)
{
    Waiter *w = opaque;

    g_mutex_lock(&w->lock);
    w->ret = ret ? json_node_copy(ret) : NULL;
    w->err = error ? g_error_copy(error) : NULL;
    w->done = true;
    g_cond_signal(&w->cond);
    g_mutex_unlock(&w->lock);
}

JsonNode *ferry_agent_call(FerryAgent *a, const char *command, JsonNode *args,
                           unsigned timeout_ms, GError **errp)
{
    Waiter w = { 0 };
    JsonNode *ret;

    g_mutex_init(&w.lock);
    g_cond_init(&w.cond);
    if (!ferry_agent_call_async(a, command, args, timeout_ms, wake_waiter, &w,
                                errp)) {
        return NULL;
    }
    g_mutex_lock(&w.lock);
    while (!w.done) {
        g_cond_wait(&w.cond, &w.lock);
    }
    g_mutex_unlock(&w.lock);
    ret = w.ret;
    if (w.err) {
        g_propagate_error(errp, w.err);
    }
    g_mutex_clear(&w.lock);
    g_cond_clear(&w.cond);
    return ret;
}
