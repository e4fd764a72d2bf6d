/*
 * The migration core's log: GLib's logging, under its own domain, so the
 * embedder decides where the lines go (g_log_set_writer_func; ferry's
 * writer puts them in its -D log).  Informational, so GLib's default
 * writer shows them only with G_MESSAGES_DEBUG=ferry-migration.
 */
#ifndef FERRY_MIGRATION_LOG_H
#define FERRY_MIGRATION_LOG_H

#include <glib.h>

#define MIG_LOG_DOMAIN "ferry-migration"
#define mig_log(...) g_log(MIG_LOG_DOMAIN, G_LOG_LEVEL_INFO, __VA_ARGS__)

#endif
