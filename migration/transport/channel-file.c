/*
 * file:PATH[,offset=N]: QEMU's semantics.  Outgoing creates or truncates
 * PATH (mode 0600) and the stream starts at byte N, so a header written
 * by someone else can precede it (the bytes before N read as zeros).
 * Incoming reads the stream from byte N.  N takes size suffixes and needs
 * no alignment; QEMU's mapped-ram aligns its own RAM area inside the stream.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include "migration/transport/channel.h"
#include "util/error.h"
#include "util/keyval.h"

/*
 * Splits "PATH,offset=N" with the option parser (util/keyval.h): the path
 * is the implied key, so a comma in it is written ",,", as in QEMU's
 * other options.  *@path is to be g_free()d.
 */
static bool parse_file_uri(const char *uri, char **path, uint64_t *offset,
                           GError **errp)
{
    static const char *const known[] = { "path", "offset", NULL };
    const char *spec = uri + 5;     /* after "file:" */
    g_autoptr(Keyval) kv = NULL;
    const char *p;

    if (!*spec || *spec == ',') {
        error_setg(errp, "'%s': missing file name", uri);
        return false;
    }
    kv = keyval_parse(spec, "path", errp);
    if (!kv || !keyval_check_known(kv, known, errp) ||
        !keyval_get_str(kv, "path", &p, errp) ||
        !keyval_get_size(kv, "offset", 0, offset, errp)) {
        g_prefix_error(errp, "%s: ", uri);
        return false;
    }
    if (!p || !*p) {
        error_setg(errp, "'%s': missing file name", uri);
        return false;
    }
    if (*offset > INT64_MAX) {
        error_setg(errp, "%s: offset too large", uri);
        return false;
    }
    *path = g_strdup(p);
    return true;
}

MigChannel *mig_file_open(const char *uri, bool outgoing, GError **errp)
{
    g_autofree char *path = NULL;
    uint64_t offset;
    int flags = outgoing ? O_WRONLY | O_CREAT | O_TRUNC : O_RDONLY;
    int fd;

    if (!parse_file_uri(uri, &path, &offset, errp)) {
        return NULL;
    }
    fd = open(path, flags | O_CLOEXEC, 0600);
    if (fd < 0) {
        error_setg_errno(errp, errno, "%s: cannot open '%s'", uri, path);
        return NULL;
    }
    if (offset && lseek(fd, offset, SEEK_SET) < 0) {
        error_setg_errno(errp, errno, "%s: cannot seek to %" G_GUINT64_FORMAT,
                         uri, offset);
        close(fd);
        return NULL;
    }
    return outgoing ? mig_channel_new(uri, -1, fd, NULL, NULL)
                    : mig_channel_new(uri, fd, -1, NULL, NULL);
}
