/*
 * ferry-img: makes and checks raw disk images for the test guest's disk
 * workload.
 *
 *   ferry-img create FILE SIZE   a raw image of SIZE bytes (K/M/G), every
 *                                sector holding generation 0 of the disk
 *                                pattern (guest/disk-pattern.h)
 *   ferry-img check FILE         counts the sectors of each kind (generation
 *                                0, written by a guest, blank, corrupt) and
 *                                names the first corrupt one; exit 0 only
 *                                if every sector is generation 0
 *
 * The guest assumes a freshly created image: its generation table starts
 * at 0 for every sector, and it refuses a disk whose sector 0 is not
 * generation 0 (guest/disk.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <glib.h>
#include "guest/disk-pattern.h"
#include "util/size.h"

#define CHUNK_SECTORS 2048u     /* 1 MiB per read or write */

static int usage(void)
{
    fprintf(stderr, "usage: ferry-img create FILE SIZE\n"
                    "       ferry-img check FILE\n");
    return 2;
}

static bool write_all(int fd, const void *buf, size_t len, off_t off)
{
    const char *p = buf;

    while (len) {
        ssize_t n = pwrite(fd, p, len, off);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return false;
        }
        p += n;
        len -= (size_t)n;
        off += n;
    }
    return true;
}

static int img_create(const char *path, const char *size_str)
{
    g_autoptr(GError) err = NULL;
    g_autofree uint64_t *buf = g_malloc(CHUNK_SECTORS * DP_SECTOR_SIZE);
    uint64_t size, sectors;
    int fd;

    if (!parse_size(size_str, 1, &size, &err)) {
        fprintf(stderr, "ferry-img: %s\n", err->message);
        return 1;
    }
    if (size == 0 || size % DP_SECTOR_SIZE) {
        fprintf(stderr, "ferry-img: size %s is not a positive multiple of "
                "%u bytes\n", size_str, DP_SECTOR_SIZE);
        return 1;
    }
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        fprintf(stderr, "ferry-img: %s: %s\n", path, g_strerror(errno));
        return 1;
    }
    sectors = size / DP_SECTOR_SIZE;
    for (uint64_t s = 0; s < sectors; s += CHUNK_SECTORS) {
        uint64_t n = MIN(CHUNK_SECTORS, sectors - s);
        dp_fill(buf, s, n, 0);
        if (!write_all(fd, buf, n * DP_SECTOR_SIZE, (off_t)(s * DP_SECTOR_SIZE))) {
            fprintf(stderr, "ferry-img: %s: write: %s\n", path,
                    g_strerror(errno));
            close(fd);
            return 1;
        }
    }
    if (fsync(fd) < 0 || close(fd) < 0) {
        fprintf(stderr, "ferry-img: %s: %s\n", path, g_strerror(errno));
        return 1;
    }
    return 0;
}

/* Returns the bytes read (short only at the end), or -1. */
static ssize_t read_full(int fd, void *buf, size_t len)
{
    size_t got = 0;

    while (got < len) {
        ssize_t n = read(fd, (char *)buf + got, len - got);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return -1;
        }
        if (n == 0) {
            break;
        }
        got += (size_t)n;
    }
    return (ssize_t)got;
}

/* What a check found, sector by sector. */
typedef struct Scan {
    uint64_t sectors;
    uint64_t formatted;         /* generation 0 */
    uint64_t written;           /* a later generation: a guest wrote it */
    uint64_t blank;             /* all zeros */
    uint64_t other;             /* corrupt, or not a ferry-img image */
    uint64_t first_other;
} Scan;

static void scan_chunk(Scan *sc, const uint64_t *buf, uint64_t count)
{
    for (uint64_t i = 0; i < count; i++, sc->sectors++) {
        uint32_t gen;

        switch (dp_classify(buf + i * DP_SECTOR_WORDS, sc->sectors, &gen)) {
        case DP_PATTERN:
            if (gen) {
                sc->written++;
            } else {
                sc->formatted++;
            }
            break;
        case DP_BLANK:
            sc->blank++;
            break;
        default:
            if (!sc->other++) {
                sc->first_other = sc->sectors;
            }
        }
    }
}

/* One line for the whole image, one more for the first corrupt sector. */
static int scan_report(const char *path, const Scan *sc)
{
    if (sc->formatted == sc->sectors) {
        printf("%s: %" G_GUINT64_FORMAT " sectors, all generation 0\n", path,
               sc->sectors);
        return 0;
    }
    if (sc->blank == sc->sectors) {
        printf("%s: %" G_GUINT64_FORMAT " sectors, all zeros: a blank image, "
               "not formatted (ferry-img create formats one)\n", path,
               sc->sectors);
        return 1;
    }
    printf("%s: %" G_GUINT64_FORMAT " sectors: %" G_GUINT64_FORMAT
           " generation 0, %" G_GUINT64_FORMAT " written by a guest, %"
           G_GUINT64_FORMAT " blank, %" G_GUINT64_FORMAT " corrupt\n", path,
           sc->sectors, sc->formatted, sc->written, sc->blank, sc->other);
    if (sc->other) {
        printf("%s: sector %" G_GUINT64_FORMAT " is corrupt (neither the "
               "pattern of a generation nor zeros)\n", path, sc->first_other);
    }
    return 1;
}

/*
 * Classifies every sector, like a block scanner after fio's verify: as
 * formatted, rewritten by a guest, blank or corrupt.  Exit 0 only for an
 * image exactly as `create` left it.
 */
static int img_check(const char *path)
{
    g_autofree uint64_t *buf = g_malloc(CHUNK_SECTORS * DP_SECTOR_SIZE);
    Scan sc = { 0 };
    ssize_t n;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0) {
        fprintf(stderr, "ferry-img: %s: %s\n", path, g_strerror(errno));
        return 1;
    }
    while ((n = read_full(fd, buf, CHUNK_SECTORS * DP_SECTOR_SIZE)) > 0) {
        scan_chunk(&sc, buf, (uint64_t)n / DP_SECTOR_SIZE);
        if (n % DP_SECTOR_SIZE) {
            printf("%s: %zd bytes after sector %" G_GUINT64_FORMAT " are not "
                   "a whole sector\n", path, n % DP_SECTOR_SIZE, sc.sectors);
            close(fd);
            return 1;
        }
    }
    close(fd);
    if (n < 0) {
        fprintf(stderr, "ferry-img: %s: read: %s\n", path, g_strerror(errno));
        return 1;
    }
    return scan_report(path, &sc);
}

int main(int argc, char **argv)
{
    if (argc == 4 && !strcmp(argv[1], "create")) {
        return img_create(argv[2], argv[3]);
    }
    if (argc == 3 && !strcmp(argv[1], "check")) {
        return img_check(argv[2]);
    }
    return usage();
}
