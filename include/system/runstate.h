/*
 * Run state of the VM (QAPI RunState), owned by the main thread.
 * vm_stop/vm_start pause and resume the vCPUs and emit STOP/RESUME.
 */
#ifndef FERRY_SYSTEM_RUNSTATE_H
#define FERRY_SYSTEM_RUNSTATE_H

#include <glib.h>
#include <stdbool.h>
#include "qapi/qapi-types.h"

RunState runstate_get(void);
bool runstate_is_running(void);
/* Changes the state through the transition table; refuses invalid moves. */
bool runstate_set(RunState new_state, GError **errp);

/* Pauses every vCPU and enters @state (paused, postmigrate, ...). */
bool vm_stop(RunState state, GError **errp);
/* Resumes every vCPU and enters running. */
bool vm_start(GError **errp);

/*
 * What the guest's own reset and power-off do, as QEMU's -no-reboot and
 * -no-shutdown say: with @reboot_exits a reset becomes a shutdown (cause
 * kept); with @shutdown_pauses a shutdown other than quit or a signal
 * emits SHUTDOWN and stops the VM in 'shutdown' instead of exiting.
 */
void runstate_set_actions(bool reboot_exits, bool shutdown_pauses);

/* Resets the machine; the cause is QEMU's (guest-reset, host-qmp-...). */
typedef void RunStateResetFn(ShutdownCause cause);
/* Who resets the machine; without one a reset only stops the vCPU. */
void runstate_set_reset_fn(RunStateResetFn *fn);

/* Any thread (a vCPU's triple fault, system_reset); handled in the main
 * loop by the actions above. */
void runstate_request_reset(ShutdownCause cause);
/* Any thread: the guest powered off (cause guest-shutdown, host-ui...). */
void runstate_request_shutdown(ShutdownCause cause);

/* Asks the main loop to exit; emits SHUTDOWN {guest, reason}. */
void ferry_request_shutdown(bool guest, const char *reason);
bool ferry_shutdown_requested(void);

/*
 * Ends the process with @status once the main loop returns (a failed
 * incoming migration: QEMU exits 1), logging @why.
 */
void ferry_exit_with(int status, const char *why);
int ferry_exit_status(void);

/* Runs the GLib main loop until a shutdown is requested. */
void ferry_main_loop_run(void);

#endif
