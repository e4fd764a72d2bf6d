/*
 * The log: see include/util/log.h.
 *
 * Locking: log_lock guards log_fd and serialises writes, so a line is never
 * split by another thread's line.  Formatting happens outside the lock.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include "util/error.h"
#include "util/log.h"

#ifndef FERRY_VERSION
#define FERRY_VERSION "unknown"
#endif

static GMutex log_lock;
static int log_fd = -1;

static void write_all(int fd, const char *buf, size_t len)
{
    while (len) {
        ssize_t n = write(fd, buf, len);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return;     /* nowhere left to report a failing log */
        }
        buf += n;
        len -= n;
    }
}

/* "2025-06-01T12:00:00.123456Z 1234/vcpu0: " */
static char *line_prefix(void)
{
    struct timeval tv;
    struct tm tm;
    char stamp[32], thread[16] = "?";

    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
    pthread_getname_np(pthread_self(), thread, sizeof(thread));
    return g_strdup_printf("%s.%06ldZ %d/%s: ", stamp, (long)tv.tv_usec,
                           (int)getpid(), thread);
}

static void log_line(const char *msg)
{
    g_autofree char *prefix = line_prefix();
    size_t len = strlen(msg);
    g_autofree char *line = NULL;

    while (len && msg[len - 1] == '\n') {
        len--;
    }
    line = g_strdup_printf("%s%.*s\n", prefix, (int)len, msg);

    g_mutex_lock(&log_lock);
    write_all(log_fd >= 0 ? log_fd : STDERR_FILENO, line, strlen(line));
    g_mutex_unlock(&log_lock);
}

void ferry_log(const char *fmt, ...)
{
    va_list ap;
    g_autofree char *msg = NULL;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    log_line(msg);
}

static const char *level_name(GLogLevelFlags level)
{
    switch (level & G_LOG_LEVEL_MASK) {
    case G_LOG_LEVEL_ERROR:    return "error";
    case G_LOG_LEVEL_CRITICAL: return "critical";
    case G_LOG_LEVEL_WARNING:  return "warning";
    case G_LOG_LEVEL_MESSAGE:  return "message";
    case G_LOG_LEVEL_INFO:     return "info";
    default:                   return "debug";
    }
}

static char *field_str(const GLogField *f)
{
    return f->length < 0 ? g_strdup(f->value) : g_strndup(f->value, f->length);
}

/*
 * GLib's log writer: g_warning() and friends, structured or not, end up
 * here.  GLib itself aborts after fatal levels once the writer returns.
 */
static GLogWriterOutput glib_writer(GLogLevelFlags level,
                                    const GLogField *fields, gsize n_fields,
                                    gpointer opaque)
{
    g_autofree char *domain = NULL;
    g_autofree char *message = NULL;

    for (gsize i = 0; i < n_fields; i++) {
        if (!strcmp(fields[i].key, "GLIB_DOMAIN") && !domain) {
            domain = field_str(&fields[i]);
        } else if (!strcmp(fields[i].key, "MESSAGE") && !message) {
            message = field_str(&fields[i]);
        }
    }
    /* Honour G_MESSAGES_DEBUG like the default writer, except for ferry's
     * own libraries (domain "ferry-..."), whose lines belong in the log. */
    bool ours = domain && g_str_has_prefix(domain, "ferry-");
    if (!ours && g_log_writer_default_would_drop(level, domain)) {
        return G_LOG_WRITER_HANDLED;
    }
    ferry_log("%s%s%s: %s", domain ? domain : "", domain ? "-" : "",
              level_name(level), message ? message : "");
    return G_LOG_WRITER_HANDLED;
}

static void install_glib_writer(void)
{
    static gsize done;

    /* GLib aborts if the writer is set twice */
    if (g_once_init_enter(&done)) {
        g_log_set_writer_func(glib_writer, NULL, NULL);
        g_once_init_leave(&done, 1);
    }
}

bool log_open(const char *path, GError **errp)
{
    int fd = -1, old;

    if (path) {
        fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (fd < 0) {
            error_setg_errno(errp, errno, "-D: cannot open log file '%s'",
                             path);
            return false;
        }
    }
    g_mutex_lock(&log_lock);
    old = log_fd;
    log_fd = fd;
    g_mutex_unlock(&log_lock);
    if (old >= 0) {
        close(old);
    }
    install_glib_writer();
    if (path) {
        ferry_log("ferry %s: log opened, pid %d", FERRY_VERSION,
                  (int)getpid());
    }
    return true;
}

int log_fileno(void)
{
    int fd;

    g_mutex_lock(&log_lock);
    fd = log_fd;
    g_mutex_unlock(&log_lock);
    return fd;
}

void log_close(void)
{
    g_mutex_lock(&log_lock);
    if (log_fd >= 0) {
        close(log_fd);
        log_fd = -1;
    }
    g_mutex_unlock(&log_lock);
}
