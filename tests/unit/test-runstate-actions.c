/*
 * What a guest's reset and shutdown do (system/shutdown.c): -no-reboot
 * turns a reset into a shutdown, -no-shutdown turns a guest's shutdown
 * into a pause in 'shutdown'.  Each case runs in a subprocess: a
 * requested shutdown is final for a process.  (A reset that really
 * resets needs a machine: tests/integration/test_power.py.)
 */
#include "system/runstate.h"
#include "util/error.h"

/* Runs the main context until it has nothing left to do. */
static void drain(void)
{
    while (g_main_context_iteration(NULL, FALSE)) {
    }
}

static void start_running(void)
{
    g_autoptr(GError) err = NULL;

    g_assert_true(vm_start(&err));
    g_assert_cmpint(runstate_get(), ==, RUN_STATE_RUNNING);
}

static void child_no_reboot_exits(void)
{
    runstate_set_no_reboot(true);
    start_running();
    ferry_request_reset(true, "guest-reset");
    drain();
    g_assert_true(ferry_shutdown_requested());
}

static void child_no_shutdown_pauses(void)
{
    runstate_set_no_shutdown(true);
    start_running();
    ferry_request_shutdown(true, "guest-shutdown");
    drain();
    g_assert_false(ferry_shutdown_requested());
    g_assert_cmpint(runstate_get(), ==, RUN_STATE_SHUTDOWN);
    /* A host's quit still ends the process */
    ferry_request_shutdown(false, "host-qmp-quit");
    g_assert_true(ferry_shutdown_requested());
}

static void child_no_reboot_no_shutdown_pauses(void)
{
    runstate_set_no_reboot(true);
    runstate_set_no_shutdown(true);
    start_running();
    ferry_request_reset(true, "guest-reset");
    drain();
    g_assert_false(ferry_shutdown_requested());
    g_assert_cmpint(runstate_get(), ==, RUN_STATE_SHUTDOWN);
}

static void child_shutdown_exits(void)
{
    start_running();
    ferry_request_shutdown(true, "guest-shutdown");
    drain();
    g_assert_true(ferry_shutdown_requested());
}

static void run_child(gconstpointer data)
{
    g_test_trap_subprocess(data, 0, G_TEST_SUBPROCESS_DEFAULT);
    g_test_trap_assert_passed();
}

int main(int argc, char **argv)
{
    static const struct {
        const char *name;
        void (*fn)(void);
    } cases[] = {
        { "no-reboot-exits", child_no_reboot_exits },
        { "no-shutdown-pauses", child_no_shutdown_pauses },
        { "no-reboot-no-shutdown-pauses", child_no_reboot_no_shutdown_pauses },
        { "shutdown-exits", child_shutdown_exits },
    };

    g_test_init(&argc, &argv, NULL);
    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        char *path = g_strdup_printf("/runstate-actions/%s", cases[i].name);
        char *child = g_strdup_printf("%s/subprocess", path);

        g_test_add_func(child, cases[i].fn);
        g_test_add_data_func_full(path, child, run_child, g_free);
        g_free(path);
    }
    return g_test_run();
}
