/*
 * The command-line parser's parts (system/options*.c): the table in
 * options.c names handlers from the files that own each group of options.
 */
#ifndef FERRY_SYSTEM_OPTIONS_INTERNAL_H
#define FERRY_SYSTEM_OPTIONS_INTERNAL_H

#include <glib.h>
#include "system/machine.h"
#include "util/keyval.h"

/* @opt is the option as the user typed it, for error messages. */
typedef bool OptionHandler(MachineConfig *cfg, const char *opt,
                           const char *arg, GError **errp);

/* Replaces *@dst with a copy of @arg. */
void option_set_str(char **dst, const char *arg);

/* Prefixes "OPT: " to the error a getter just set; returns false. */
bool option_error(const char *opt, GError **errp);

/*
 * Parses @arg in QEMU's option syntax (util/keyval.h) with @implied as the
 * key the first item may omit ("-m 4G" is "-m size=4G"), refusing keys
 * not in @known.  Errors name the option as typed.
 */
Keyval *option_parse(const char *opt, const char *arg, const char *implied,
                     const char *const *known, GError **errp);

/* The value of @key; "" when absent, for the caller's "invalid" message. */
bool option_str(const char *opt, const Keyval *kv, const char *key,
                const char **out, GError **errp);

/* Checks a RAM size (-m, memory-backend-ram size=); @str as given. */
bool option_check_ram_size(const char *opt, const char *str, uint64_t size,
                           GError **errp);

/* options-machine.c */
OptionHandler opt_machine, opt_accel, opt_m, opt_smp;
/* The checks that need the whole command line (-m against the memory
 * backend, what the none machine cannot have, -accel and accel=). */
bool options_check_machine(MachineConfig *cfg, GError **errp);

/* options-object.c */
OptionHandler opt_object;
/* -machine memory-backend= against the -object list and -m (at the end). */
bool options_check_objects(MachineConfig *cfg, GError **errp);
void object_config_free(ObjectConfig *obj);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ObjectConfig, object_config_free)

/* options-char.c */
OptionHandler opt_serial, opt_add_fd;
void add_fd_config_free(AddFdConfig *a);

/* options-host.c: what changes how the process runs */
OptionHandler opt_name, opt_uuid, opt_no_reboot, opt_no_shutdown,
              opt_overcommit, opt_msg, opt_sandbox;

/* options-compat.c: accepted, validated, and without effect in ferry */
OptionHandler opt_display, opt_ignored_flag, opt_rtc, opt_boot,
              opt_audiodev;

#endif
