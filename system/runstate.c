/*
 * The VM's run state (QAPI RunState).  One table lists the legal moves;
 * runstate_set() refuses and logs anything else.  Only the main thread
 * changes the state; other threads may read it.
 */
#include "hw/pc.h"
#include "hw/pvchannel.h"
#include "system/machine.h"
#include "ferry/block.h"
#include "system/runstate.h"
#include "system/cpus.h"
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
    /* a reset of a VM that is not running leaves it in prelaunch (QEMU) */
    { RUN_STATE_PAUSED, RUN_STATE_PRELAUNCH },
    { RUN_STATE_POSTMIGRATE, RUN_STATE_PRELAUNCH },
    { RUN_STATE_SHUTDOWN, RUN_STATE_PRELAUNCH },
    { RUN_STATE_INTERNAL_ERROR, RUN_STATE_PRELAUNCH },
    { RUN_STATE_GUEST_PANICKED, RUN_STATE_PRELAUNCH },
};

static RunState current = RUN_STATE_PRELAUNCH;

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
    pvchannel_set_running_all(false);
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
    pvchannel_set_running_all(true);
    bql_lock();
    cpus_resume_all();
    bql_unlock();
    qapi_event_send_resume();
    return true;
}

bool vm_reset(GError **errp)
{
    bool running = runstate_is_running();

    if (!pc_machine_reset(errp)) {
        return false;
    }
    if (!running) {
        return runstate_set(RUN_STATE_PRELAUNCH, errp);
    }
    bql_lock();
    cpus_resume_all();
    bql_unlock();
    return true;
}

/*
 * A live update stops the vCPUs for the cutover without a run-state
 * change: to the monitors' clients the VM keeps running (no STOP, no
 * RESUME), and a failed cutover simply thaws.
 */
void vm_freeze(void)
{
    bql_lock();
    cpus_pause_all();
    bql_unlock();
    pvchannel_set_running_all(false);
}

void vm_thaw(void)
{
    if (runstate_is_running()) {
        pvchannel_set_running_all(true);
        bql_lock();
        cpus_resume_all();
        bql_unlock();
    }
}

/* The successor of a live update: the state its predecessor had. */
void runstate_adopt(RunState state)
{
    ferry_log("runstate: %s (taken over)", RunState_str(state));
    __atomic_store_n(&current, state, __ATOMIC_RELEASE);
    vm_thaw();
}
