/*
 * The VM's run state (QAPI RunState).  One table lists the legal moves;
 * runstate_set() refuses and logs anything else.  Only the main thread
 * changes the state; other threads may read it.
 */
#include "hw/pc.h"
#include "ferry/block.h"
#include "system/runstate.h"
#include "system/cpus.h"
#include "monitor/monitor.h"
#include "qapi/qapi-events.h"
#include "util/error.h"
#include "util/log.h"

typedef struct RunStateTransition {
    RunState from, to;
} RunStateTransition;

static const RunStateTransition transitions[] = {
    { RUN_STATE_PRELAUNCH, RUN_STATE_RUNNING },
    { RUN_STATE_PRELAUNCH, RUN_STATE_INMIGRATE },
    { RUN_STATE_PRELAUNCH, RUN_STATE_PAUSED },
    { RUN_STATE_INMIGRATE, RUN_STATE_RUNNING },
    { RUN_STATE_INMIGRATE, RUN_STATE_PAUSED },
    { RUN_STATE_INMIGRATE, RUN_STATE_INTERNAL_ERROR },
    { RUN_STATE_INMIGRATE, RUN_STATE_POSTMIGRATE },
    { RUN_STATE_RUNNING, RUN_STATE_PAUSED },
    { RUN_STATE_RUNNING, RUN_STATE_FINISH_MIGRATE },
    { RUN_STATE_RUNNING, RUN_STATE_POSTMIGRATE },
    { RUN_STATE_RUNNING, RUN_STATE_INTERNAL_ERROR },
    { RUN_STATE_RUNNING, RUN_STATE_GUEST_PANICKED },
    { RUN_STATE_RUNNING, RUN_STATE_SAVE_VM },
    { RUN_STATE_PAUSED, RUN_STATE_RUNNING },
    { RUN_STATE_PAUSED, RUN_STATE_FINISH_MIGRATE },
    { RUN_STATE_PAUSED, RUN_STATE_POSTMIGRATE },
    { RUN_STATE_PAUSED, RUN_STATE_SAVE_VM },
    { RUN_STATE_FINISH_MIGRATE, RUN_STATE_RUNNING },
    { RUN_STATE_FINISH_MIGRATE, RUN_STATE_PAUSED },
    { RUN_STATE_FINISH_MIGRATE, RUN_STATE_POSTMIGRATE },
    { RUN_STATE_POSTMIGRATE, RUN_STATE_RUNNING },
    { RUN_STATE_POSTMIGRATE, RUN_STATE_PAUSED },
    { RUN_STATE_SAVE_VM, RUN_STATE_RUNNING },
    { RUN_STATE_SAVE_VM, RUN_STATE_PAUSED },
    { RUN_STATE_INTERNAL_ERROR, RUN_STATE_PAUSED },
    { RUN_STATE_INTERNAL_ERROR, RUN_STATE_RUNNING },
    { RUN_STATE_GUEST_PANICKED, RUN_STATE_PAUSED },
    { RUN_STATE_GUEST_PANICKED, RUN_STATE_RUNNING },
};

static RunState current = RUN_STATE_PRELAUNCH;
static int exit_status;
static bool shutdown_requested;
static GMainLoop *main_loop;
/* -no-reboot, -no-shutdown, and who can reset the machine (main thread) */
static bool no_reboot, no_shutdown;
static RunStateResetFn *reset_fn;

RunState runstate_get(void)
{
    return __atomic_load_n(&current, __ATOMIC_ACQUIRE);
}

bool runstate_is_running(void)
{
    return runstate_get() == RUN_STATE_RUNNING;
}

static bool transition_allowed(RunState from, RunState to)
{
    if (to == RUN_STATE_SHUTDOWN) {
        return true;        /* quit is always possible */
    }
    for (gsize i = 0; i < G_N_ELEMENTS(transitions); i++) {
        if (transitions[i].from == from && transitions[i].to == to) {
            return true;
        }
    }
    return false;
}

bool runstate_set(RunState new_state, GError **errp)
{
    RunState old = runstate_get();

    if (old == new_state) {
        return true;
    }
    if (!transition_allowed(old, new_state)) {
        error_setg(errp, "invalid runstate transition: '%s' -> '%s'",
                   RunState_str(old), RunState_str(new_state));
        ferry_log("runstate: refused %s -> %s", RunState_str(old),
                  RunState_str(new_state));
        return false;
    }
    ferry_log("runstate: %s -> %s", RunState_str(old), RunState_str(new_state));
    __atomic_store_n(&current, new_state, __ATOMIC_RELEASE);
    return true;
}

bool vm_stop(RunState state, GError **errp)
{
    if (!runstate_is_running()) {
        return true;        /* as QEMU: stopping a stopped VM does nothing */
    }
    if (!runstate_set(state, errp)) {
        return false;
    }
    bql_lock();
    cpus_pause_all();
    bql_unlock();
    qapi_event_send_stop();
    return true;
}

bool vm_start(GError **errp)
{
    if (runstate_is_running()) {
        return true;
    }
    /* The guest never runs without its disks' write lock (QEMU's cont). */
    if (!bdrv_activate_all(machine_block_graph(), errp)) {
        return false;
    }
    if (!runstate_set(RUN_STATE_RUNNING, errp)) {
        return false;
    }
    bql_lock();
    cpus_resume_all();
    bql_unlock();
    qapi_event_send_resume();
    return true;
}

static gboolean quit_main_loop(gpointer opaque)
{
    if (main_loop) {
        g_main_loop_quit(main_loop);
    }
    return G_SOURCE_REMOVE;
}

void ferry_request_shutdown(bool guest, const char *reason)
{
    int cause = ShutdownCause_lookup(reason);

    if (shutdown_requested) {
        return;
    }
    shutdown_requested = true;
    ferry_log("shutdown requested: %s", reason);
    qapi_event_send_shutdown(guest, cause < 0 ? SHUTDOWN_CAUSE_NONE : cause);
    /* Low priority, so the reply to `quit` and the event leave first. */
    g_idle_add_full(G_PRIORITY_LOW, quit_main_loop, NULL, NULL);
}

void runstate_set_actions(bool reboot_exits, bool shutdown_pauses)
{
    no_reboot = reboot_exits;
    no_shutdown = shutdown_pauses;
}

void runstate_set_reset_fn(RunStateResetFn *fn)
{
    reset_fn = fn;
}

/* QEMU's rule: the guest-* causes are the guest's doing. */
static bool caused_by_guest(ShutdownCause cause)
{
    return cause == SHUTDOWN_CAUSE_GUEST_SHUTDOWN ||
           cause == SHUTDOWN_CAUSE_GUEST_RESET ||
           cause == SHUTDOWN_CAUSE_GUEST_PANIC;
}

/* -no-shutdown keeps the process, paused in 'shutdown', for its manager. */
static void shutdown_by(ShutdownCause cause)
{
    g_autoptr(GError) err = NULL;

    if (!no_shutdown) {
        ferry_request_shutdown(caused_by_guest(cause),
                               ShutdownCause_str(cause));
        return;
    }
    ferry_log("shutdown requested: %s; pausing (-no-shutdown)",
              ShutdownCause_str(cause));
    qapi_event_send_shutdown(caused_by_guest(cause), cause);
    if (!vm_stop(RUN_STATE_SHUTDOWN, &err)) {
        ferry_log("shutdown: %s", err->message);
    }
}

static gboolean do_guest_shutdown(gpointer opaque)
{
    shutdown_by(GPOINTER_TO_INT(opaque));
    return G_SOURCE_REMOVE;
}

static gboolean do_reset(gpointer opaque)
{
    ShutdownCause cause = GPOINTER_TO_INT(opaque);

    if (no_reboot) {
        shutdown_by(cause);
    } else if (reset_fn) {
        reset_fn(cause);
    } else {
        ferry_log("reset requested (%s): ferry cannot reset the machine; "
                  "the vCPU stays stopped", ShutdownCause_str(cause));
    }
    return G_SOURCE_REMOVE;
}

void runstate_request_reset(ShutdownCause cause)
{
    g_idle_add(do_reset, GINT_TO_POINTER(cause));
}

void runstate_request_shutdown(ShutdownCause cause)
{
    g_idle_add(do_guest_shutdown, GINT_TO_POINTER(cause));
}

void ferry_exit_with(int status, const char *why)
{
    ferry_log("exiting with status %d: %s", status, why);
    exit_status = status;
    if (main_loop) {
        g_main_loop_quit(main_loop);
    }
}

int ferry_exit_status(void)
{
    return exit_status;
}

bool ferry_shutdown_requested(void)
{
    return shutdown_requested;
}

void ferry_main_loop_run(void)
{
    main_loop = g_main_loop_new(NULL, FALSE);
    if (!shutdown_requested) {
        g_main_loop_run(main_loop);
    }
    g_clear_pointer(&main_loop, g_main_loop_unref);
}
