/*
 * ferry-img: makes and checks raw disk images for the test guest's disk
 * workload.
 *
 *   ferry-img create FILE SIZE   a raw image of SIZE bytes (K/M/G), every
 *                                sector holding generation 0 of the disk
 *                                pattern (guest/disk-pattern.h)
 *   ferry-img check FILE         exit 0 if every sector is generation 0;
 *                                else print the first bad sector, exit 1
 *
 * The guest assumes a freshly created image: its generation table starts
 * at 0 for every sector.
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

static int img_check(const char *path)
{
    g_autofree uint64_t *buf = g_malloc(CHUNK_SECTORS * DP_SECTOR_SIZE);
    uint64_t sector = 0;
    ssize_t n;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0) {
        fprintf(stderr, "ferry-img: %s: %s\n", path, g_strerror(errno));
        return 1;
    }
    while ((n = read_full(fd, buf, CHUNK_SECTORS * DP_SECTOR_SIZE)) > 0) {
        uint64_t count = (uint64_t)n / DP_SECTOR_SIZE;
        uint64_t bad = dp_check(buf, sector, count, 0);
        if (bad < count || n % DP_SECTOR_SIZE) {
            printf("%s: sector %" G_GUINT64_FORMAT " is not generation 0\n",
                   path, sector + bad);
            close(fd);
            return 1;
        }
        sector += count;
    }
    close(fd);
    if (n < 0) {
        fprintf(stderr, "ferry-img: %s: read: %s\n", path, g_strerror(errno));
        return 1;
    }
    printf("%s: %" G_GUINT64_FORMAT " sectors, all generation 0\n", path,
           sector);
    return 0;
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
