/*
 * Writes the block-option fuzzer's seeds and dictionary: the inputs below
 * (valid command lines and typical mistakes) into DIR, each first run
 * through the harness, which must accept exactly as many of its lines as
 * the table says, so a seed that no longer means what it says fails the
 * run; and a libFuzzer dictionary into DICT, the option keys taken from
 * the drivers' own tables (block/drivers.c).  Run by `make fuzz`; no seed
 * is kept in the repository.
 *
 * Usage: gen-blockdev-corpus DIR DICT
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fuzz-blockdev.h"
#include "block/block_int.h"

#define F0 "driver=file,node-name=f0,filename=/nonexistent/ferry-fuzz.img"
#define HTTP "driver=http,node-name=h0,url=http://192.0.2.1/disk.img"

typedef struct Seed {
    const char *text;
    unsigned accepted;          /* how many of its lines must succeed */
} Seed;

static const Seed seeds[] = {
    /* Valid machines. */
    { F0, 1 },
    { "driver=file,node-name=f0,filename=/no/disk,,with,,commas.img,"
      "cache.direct=on,aio=threads,locking=off,read-only=on\n"
      "pvblk,drive=f0,id=disk0", 2 },
    { "driver=file,node-name=f0,filename=x,aio=io_uring,cache.direct=off,"
      "locking=yes,read-only=false\npvblk,drive=f0", 2 },
    { HTTP ",timeout=5,readahead=65536,cache-size=1048576\npvblk,drive=h0",
      2 },
    { HTTP ",timeout=86400,readahead=67108864,read-only=on", 1 },
    { "driver=https,node-name=s0,url=HTTPS://example.invalid/d.img,"
      "read-only=yes\n"
      "driver=blkdelay,node-name=d0,file=s0,attach-latency-ms=10,"
      "io-latency-us=100\n"
      "driver=pvblk,drive=d0,id=vd.a", 3 },
    { "driver=file,node-name=a,filename=a\ndriver=file,node-name=b,filename=b\n"
      "pvblk,drive=a,id=x\npvblk,drive=b", 4 },
    { "driver=file,node-name=a,filename=a\ndriver=file,node-name=b,filename=b\n"
      "driver=file,node-name=c,filename=c\ndriver=file,node-name=d,filename=d\n"
      "driver=file,node-name=e,filename=e\n"
      "pvblk,drive=a\npvblk,drive=b\npvblk,drive=c\npvblk,drive=d\n"
      "pvblk,drive=e", 9 },         /* the fifth device is one too many */
    { "driver=file,node-name=abcdefghijklmnopqrstuvwxyz01234,filename=f", 1 },
    { F0 ",,bogus=1", 1 },          /* ",," is a comma of the file name */
    { F0 ",", 1 },                  /* QEMU allows a trailing comma */
    { "{\"driver\": \"file\", \"node-name\": \"f0\", \"filename\": \"x\", "
      "\"cache\": {\"direct\": true}, \"read-only\": false}\n"
      "{\"driver\": \"pvblk\", \"drive\": \"f0\", \"id\": \"disk0\"}", 2 },

    /* -blockdev mistakes. */
    { "driver=file,node-name=f0", 0 },
    { "driver=file,node-name=f0,filename=", 0 },
    { "driver=nbd,node-name=n0,server=x", 0 },
    { "node-name=f0,filename=x", 0 },
    { "driver=file,filename=x", 0 },
    { "driver=file,node-name=0f,filename=x", 0 },
    { "driver=file,node-name=abcdefghijklmnopqrstuvwxyz012345,filename=f", 0 },
    { "driver=file,node-name=f/0,filename=x", 0 },
    { F0 ",filename=y", 0 },
    { F0 ",cache.direct=maybe", 0 },
    { F0 ",aio=native", 0 },
    { F0 ",url=http://h/d", 0 },
    { F0 ",=v", 0 },
    { F0 ",noval", 0 },
    { F0 ",cache.direct=on,cache=on", 0 },
    { "{\"driver\": \"file\", \"node-name\": \"f0\", \"filename\": [1]}", 0 },
    { "{\"driver\": \"file\", \"node-name\": \"f0\"", 0 },
    { "driver=file,,node-name=f0,filename=x", 0 },
    { "\n", 0 },
    { HTTP ",read-only=off", 0 },
    { HTTP ",timeout=0", 0 },
    { HTTP ",timeout=86401", 0 },
    { HTTP ",readahead=67108865", 0 },
    { HTTP ",cache-size=-1", 0 },
    { HTTP ",timeout=18446744073709551616", 0 },
    { HTTP ",filename=x", 0 },
    { "driver=http,node-name=h0", 0 },
    { "driver=http,node-name=h0,url=ftp://h/d", 0 },
    { "driver=http,node-name=h0,url=http://", 0 },
    { "driver=https,node-name=h0,url=http://h/d", 0 },
    { "driver=blkdelay,node-name=d0", 0 },
    { "driver=blkdelay,node-name=d0,file=nope", 0 },
    { F0 "\ndriver=blkdelay,node-name=d0,file=f0,io-latency-us=x", 1 },
    { F0 "\ndriver=file,node-name=f0,filename=y", 1 },
    { F0 "\ndriver=blkdelay,node-name=d0,file=f0\n"
      "driver=blkdelay,node-name=d1,file=f0", 2 },
    { F0 "\ndriver=blkdelay,node-name=d0,file=d0", 1 },

    /* -device mistakes. */
    { "pvblk", 0 },
    { "pvblk,drive=nope", 0 },
    { "pvblk,id=x", 0 },
    { "pvblk,drive=", 0 },
    { "pvblkx,drive=f0", 0 },
    { "driver=pvblk", 0 },
    { F0 "\npvblk,drive=f0,serial=1", 1 },
    { F0 "\npvblk,drive=f0,id=1x", 1 },
    { F0 "\npvblk,drive=f0,id=a b", 1 },
    { F0 "\npvblk,drive=f0,id=a\npvblk,drive=f0,id=b", 2 },
    { F0 "\npvblk,drive=f0\ndriver=blkdelay,node-name=d0,file=f0", 2 },
    { F0 "\ndriver=blkdelay,node-name=d0,file=f0\npvblk,drive=f0", 2 },
    { "driver=file,node-name=a,filename=a\ndriver=file,node-name=b,filename=b\n"
      "pvblk,drive=a,id=x\npvblk,drive=b,id=x", 3 },
};

static void fail(const char *what, const char *why)
{
    fprintf(stderr, "gen-blockdev-corpus: %s: %s\n", what, why);
    exit(1);
}

static void write_seed(const char *dir, unsigned i, const char *text,
                       unsigned want)
{
    g_autofree char *path = g_strdup_printf("%s/seed-%02u", dir, i);
    g_autoptr(GError) err = NULL;
    unsigned lines;
    unsigned got = fuzz_blockdev_apply((const uint8_t *)text, strlen(text),
                                       &lines);

    if (got != want) {
        g_autofree char *why =
            g_strdup_printf("%u of its %u line(s) accepted, not %u (run "
                            "with FUZZ_VERBOSE=1 to see why)", got, lines, want);
        fail(path, why);
    }
    if (!g_file_set_contents(path, text, -1, &err)) {
        fail(path, err->message);
    }
}

/* Writes @word once (http and https share their keys). */
static void dict_entry(FILE *f, const char *word)
{
    static GHashTable *seen;

    if (!seen) {
        seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    }
    if (!g_hash_table_add(seen, g_strdup(word))) {
        return;
    }
    fputc('"', f);
    for (const char *p = word; *p; p++) {
        if (*p == '"' || *p == '\\' || !g_ascii_isprint(*p)) {
            fprintf(f, "\\x%02x", (unsigned char)*p);
        } else {
            fputc(*p, f);
        }
    }
    fputs("\"\n", f);
}

static void write_dict(const char *path)
{
    static const char *const words[] = {
        "node-name=", "read-only=", "file=", "on", "off", "yes", "no",
        "true", "false", "io_uring", "threads", "http://", "https://",
        ",,", "pvblk", "pvblk,drive=", "drive=", "id=", "\n", "{\"",
        "\": ", ", \"", "}", "{\"driver\": \"pvblk\"", "cache.", ".",
        "18446744073709551615", "86400", "67108864",
    };
    g_autofree char *names = bdrv_driver_names();
    g_auto(GStrv) drivers = g_strsplit(names, ", ", -1);
    FILE *f = fopen(path, "w");

    if (!f) {
        fail(path, g_strerror(errno));
    }
    for (gsize i = 0; i < G_N_ELEMENTS(words); i++) {
        dict_entry(f, words[i]);
    }
    for (unsigned i = 0; drivers[i]; i++) {
        const BlockDriver *drv = bdrv_find_driver(drivers[i]);
        g_autofree char *kv = g_strdup_printf("driver=%s", drivers[i]);

        if (!drv) {
            fail(path, "bdrv_driver_names() lists an unknown driver");
        }
        dict_entry(f, kv);
        for (unsigned k = 0; drv->options && drv->options[k]; k++) {
            g_autofree char *key = g_strdup_printf("%s=", drv->options[k]);
            dict_entry(f, key);
        }
    }
    if (fclose(f) != 0) {
        fail(path, g_strerror(errno));
    }
}

int main(int argc, char **argv)
{
    unsigned n = 0;

    if (argc != 3) {
        fprintf(stderr, "usage: gen-blockdev-corpus DIR DICT\n");
        return 2;
    }
    for (gsize i = 0; i < G_N_ELEMENTS(seeds); i++) {
        write_seed(argv[1], n++, seeds[i].text, seeds[i].accepted);
    }
    /* An id as long as the migration section name allows (the section is
     * "ID/pvblk", at most VMSTATE_IDSTR_MAX = 255 bytes), and one longer:
     * refused, and under FUZZ_STRICT=1 it must leave nothing behind. */
    for (unsigned len = 249; len <= 250; len++) {
        g_autofree char *long_id = g_strnfill(len, 'i');
        g_autofree char *text = g_strdup_printf("%s\npvblk,drive=f0,id=%s",
                                                F0, long_id);
        write_seed(argv[1], n++, text, len == 249 ? 2 : 1);
    }
    write_dict(argv[2]);
    printf("gen-blockdev-corpus: wrote %u seeds into %s, dictionary %s\n", n,
           argv[1], argv[2]);
    return 0;
}
