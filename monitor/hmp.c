/*
 * HMP command-line parsing and execution (the command tables and their
 * handlers are in hmp-cmds.c).  QMP-only: see include/monitor/hmp.h.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "monitor/hmp.h"
#include "util/error.h"
#include "util/keyval.h"

void hmp_printf(Hmp *hmp, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    g_string_append_vprintf(hmp->out, fmt, ap);
    va_end(ap);
}

JsonNode *hmp_qmp(Hmp *hmp, const char *command, JsonObject *args,
                  GError **errp)
{
    return hmp->qmp(hmp->opaque, command, args, errp);
}

/* Splits @line into words; "double quotes" group, backslash escapes. */
static GPtrArray *split_words(const char *line, GError **errp)
{
    g_autoptr(GPtrArray) words = g_ptr_array_new_with_free_func(g_free);
    const char *p = line;

    for (;;) {
        GString *w;

        while (g_ascii_isspace(*p)) {
            p++;
        }
        if (!*p) {
            return g_steal_pointer(&words);
        }
        w = g_string_new(NULL);
        if (*p == '"') {
            for (p++; *p && *p != '"'; p++) {
                if (*p == '\\' && p[1]) {
                    p++;
                }
                g_string_append_c(w, *p);
            }
            if (*p != '"') {
                g_string_free(w, TRUE);
                error_setg(errp, "unterminated string");
                return NULL;
            }
            p++;
        } else {
            while (*p && !g_ascii_isspace(*p)) {
                g_string_append_c(w, *p++);
            }
        }
        g_ptr_array_add(words, g_string_free(w, FALSE));
    }
}

/* Does "cont|c" name @word? */
static bool name_matches(const char *names, const char *word)
{
    g_auto(GStrv) alts = g_strsplit(names, "|", -1);

    return g_strv_contains((const char *const *)alts, word);
}

static const HmpCommand *find(const HmpCommand *table, const char *word)
{
    for (; table->name; table++) {
        if (name_matches(table->name, word)) {
            return table;
        }
    }
    return NULL;
}

static bool parse_int(const char *name, const char *word, JsonObject *args,
                      GError **errp)
{
    char *end;
    gint64 v;

    errno = 0;
    v = g_ascii_strtoll(word, &end, 0);
    if (errno || end == word || *end) {
        error_setg(errp, "'%s' is not an integer (argument '%s')", word,
                   name);
        return false;
    }
    json_object_set_int_member(args, name, v);
    return true;
}

/* QEMU's boolean words, as every option takes them. */
static bool parse_bool(const char *name, const char *word, JsonObject *args,
                       GError **errp)
{
    bool b;

    if (!keyval_parse_bool(name, word, &b, errp)) {
        return false;
    }
    json_object_set_boolean_member(args, name, b);
    return true;
}

/* Parses @words[*pos...] (and the raw @rest for 'S') by @spec. */
static bool parse_arg(const char *name, const char *spec, GPtrArray *words,
                      guint *pos, const char *rest, JsonObject *args,
                      GError **errp)
{
    bool optional = spec[0] && spec[1] == '?';
    const char *word = *pos < words->len ? words->pdata[*pos] : NULL;

    if (!word) {
        if (!optional) {
            error_setg(errp, "missing argument '%s'", name);
        }
        return optional;
    }
    (*pos)++;
    switch (spec[0]) {
    case 's':
        json_object_set_string_member(args, name, word);
        return true;
    case 'S':
        json_object_set_string_member(args, name, rest);
        *pos = words->len;
        return true;
    case 'i':
        return parse_int(name, word, args, errp);
    case 'b':
        return parse_bool(name, word, args, errp);
    }
    error_setg(errp, "bad argument spec '%s:%s'", name, spec);
    return false;
}

/* The raw text after the first @n words of @line, for 'S' arguments. */
static const char *skip_words(const char *line, guint n)
{
    const char *p = line;

    for (guint i = 0; i < n; i++) {
        while (g_ascii_isspace(*p)) {
            p++;
        }
        while (*p && !g_ascii_isspace(*p)) {
            p++;
        }
    }
    while (g_ascii_isspace(*p)) {
        p++;
    }
    return p;
}

/* Leading "-x" words that are flags of @cmd. */
static void parse_flags(const HmpCommand *cmd, GPtrArray *words, guint *pos,
                        JsonObject *args)
{
    g_auto(GStrv) specs = g_strsplit(cmd->args_type ? cmd->args_type : "",
                                     ",", -1);

    while (*pos < words->len && ((char *)words->pdata[*pos])[0] == '-' &&
           ((char *)words->pdata[*pos])[1]) {
        const char *w = words->pdata[*pos];
        bool found = false;

        for (char **s = specs; *s && !found; s++) {
            const char *colon = strchr(*s, ':');

            if (colon && colon[1] == '-' && !strcmp(colon + 1, w)) {
                g_autofree char *name = g_strndup(*s, colon - *s);

                json_object_set_boolean_member(args, name, true);
                found = true;
            }
        }
        if (!found) {
            break;              /* maybe a negative number argument */
        }
        (*pos)++;
    }
}

static bool parse_args(const HmpCommand *cmd, const char *line,
                       GPtrArray *words, guint pos, JsonObject *args,
                       GError **errp)
{
    g_auto(GStrv) specs = g_strsplit(cmd->args_type ? cmd->args_type : "",
                                     ",", -1);

    parse_flags(cmd, words, &pos, args);
    for (char **s = specs; *s; s++) {
        const char *colon = strchr(*s, ':');
        g_autofree char *name = NULL;

        if (!colon || colon[1] == '-') {
            continue;
        }
        name = g_strndup(*s, colon - *s);
        if (!parse_arg(name, colon + 1, words, &pos, skip_words(line, pos),
                       args, errp)) {
            return false;
        }
    }
    if (pos < words->len) {
        error_setg(errp, "unexpected argument '%s'",
                   (char *)words->pdata[pos]);
        return false;
    }
    return true;
}

bool hmp_execute(Hmp *hmp, const char *line, GError **errp)
{
    return hmp_execute_table(hmp, hmp_commands, line, errp);
}

bool hmp_execute_table(Hmp *hmp, const HmpCommand *table, const char *line,
                       GError **errp)
{
    g_autoptr(GPtrArray) words = split_words(line, errp);
    g_autoptr(JsonObject) args = json_object_new();
    const HmpCommand *cmd;
    guint pos = 1;

    if (!words) {
        return false;
    }
    if (words->len == 0) {
        return true;
    }
    cmd = find(table, words->pdata[0]);
    if (cmd && cmd->sub && words->len > 1) {
        const HmpCommand *sub = find(cmd->sub, words->pdata[1]);

        if (!sub) {
            g_set_error(errp, FERRY_ERROR, FERRY_ERROR_COMMAND_NOT_FOUND,
                        "unknown command: '%s %s'", (char *)words->pdata[0],
                        (char *)words->pdata[1]);
            return false;
        }
        cmd = sub;
        pos = 2;
    }
    if (!cmd) {
        g_set_error(errp, FERRY_ERROR, FERRY_ERROR_COMMAND_NOT_FOUND,
                    "unknown command: '%s'", (char *)words->pdata[0]);
        return false;
    }
    return parse_args(cmd, line, words, pos, args, errp) &&
           cmd->fn(hmp, args, errp);
}
