/*
 * The human monitor (HMP): parses a command line like "info status" or
 * "migrate -d tcp:host:4444", runs it as QMP commands through a transport
 * the caller provides, and formats the replies for humans.
 *
 * One implementation, two doors: the VMM runs it in-process (-monitor,
 * human-monitor-command) and ferryctl runs it over a QMP socket.  So this
 * code must not call VM functions: it only speaks QMP.
 */
#ifndef FERRY_MONITOR_HMP_H
#define FERRY_MONITOR_HMP_H

#include <stdbool.h>
#include <glib.h>
#include <json-glib/json-glib.h>

/*
 * Runs QMP @command with @args (may be NULL, not consumed).  Returns the
 * "return" value, or NULL with @errp set to the QMP error (its code from
 * the error class) or to a transport error (domain G_IO_ERROR).
 */
typedef JsonNode *HmpQmpFn(void *opaque, const char *command,
                           JsonObject *args, GError **errp);

typedef struct Hmp {
    HmpQmpFn *qmp;
    void *opaque;
    GString *out;               /* human output, lines end with "\n" */
    /*
     * Set by a door that may block (ferryctl): then `migrate` without -d
     * waits for the end, calling @progress (may be NULL) about ten times a
     * second.  The VMM's own monitor must not block its main loop, so there
     * `migrate` always returns at once, as with -d.
     */
    bool can_wait;
    void (*progress)(void *opaque, const char *line);
} Hmp;

/*
 * Runs one command line; empty lines do nothing.  Output is appended to
 * hmp->out.  Returns false with @errp set if the command failed.
 */
bool hmp_execute(Hmp *hmp, const char *line, GError **errp);

void hmp_printf(Hmp *hmp, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
JsonNode *hmp_qmp(Hmp *hmp, const char *command, JsonObject *args,
                  GError **errp);

/*
 * A command.  @args_type lists the arguments, QEMU-style, separated by
 * commas, each NAME:SPEC where SPEC is
 *   -x   a flag, present as "-x" before the other arguments (bool)
 *   s    one word (string); S: the rest of the line (string)
 *   i    an integer; b: on/off (bool)
 * and a trailing '?' makes s, S, i, b optional.  Parsed arguments reach
 * the handler as a JSON object keyed by NAME, ready to pass to QMP.
 */
typedef bool HmpHandler(Hmp *hmp, JsonObject *args, GError **errp);

typedef struct HmpCommand {
    const char *name;           /* "cont|c": the name, then aliases */
    const char *args_type;
    const char *params;         /* "[-d] uri": the usage shown by help */
    const char *help;
    HmpHandler *fn;
    const struct HmpCommand *sub;   /* "info": its sub-commands */
} HmpCommand;

/* hmp_execute() with another command table (tests, future doors). */
bool hmp_execute_table(Hmp *hmp, const HmpCommand *table, const char *line,
                       GError **errp);

/* Both tables end with an entry whose name is NULL. */
extern const HmpCommand hmp_commands[];
extern const HmpCommand hmp_info_commands[];

#endif
