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
 * Live update: vCPUs stop and start again with no run-state change and
 * no STOP/RESUME event (thaw resumes only a running VM); the successor
 * adopts its predecessor's run state, running the vCPUs if it ran.
 */
void vm_freeze(void);
void vm_thaw(void);
void runstate_adopt(RunState state);
/*
 * Resets the machine (hw/pc.h); a running VM runs on, any other enters
 * prelaunch, as in QEMU, so that 'cont' starts the new boot.
 */
bool vm_reset(GError **errp);

/*
 * Requests, from any thread, that the main loop acts on in a callback of
 * its own (system/shutdown.c), after the reply to the command that asked.
 * @reason is a ShutdownCause name ("host-qmp-quit", "guest-shutdown").
 *
 * Shutdown: emits SHUTDOWN {guest, reason} and ends the main loop; a
 * guest's power-off with runstate_set_no_shutdown(true) pauses the VM in
 * state 'shutdown' instead.
 */
void ferry_request_shutdown(bool guest, const char *reason);
bool ferry_shutdown_requested(void);
/* Reset: resets the machine and emits RESET {guest, reason}; with
 * runstate_set_no_reboot(true) it is a shutdown instead. */
void ferry_request_reset(bool guest, const char *reason);
/* The power button: emits POWERDOWN and presses the paravirtual button
 * the guest polls (hw/power-button.h); the guest decides what to do. */
void ferry_request_powerdown(void);

/* -no-shutdown, -no-reboot: call before the main loop runs. */
void runstate_set_no_shutdown(bool pause);
void runstate_set_no_reboot(bool exit);

/*
 * Ends the process with @status once the main loop returns (a failed
 * incoming migration: QEMU exits 1), logging @why.
 */
void ferry_exit_with(int status, const char *why);
int ferry_exit_status(void);

/* Runs the GLib main loop until a shutdown is requested. */
void ferry_main_loop_run(void);

#endif
