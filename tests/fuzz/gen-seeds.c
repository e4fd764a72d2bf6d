/*
 * Writes the seed corpora of the fuzz targets qmp, return-path, pvblk,
 * http and multifd into DIR (and, for qmp, a dictionary of every command name of the
 * generated table and of the HMP into DICT), from the constants the
 * product uses, so the seeds follow the code.  Run by `make fuzz`; no
 * seed is kept in the repository (regression inputs are, in
 * tests/fuzz/regress/).
 *
 * Usage: gen-seeds qmp|return-path|pvblk|http|multifd DIR [DICT]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "guest/pvblk-dev.h"
#include "migration/format/return-path.h"
#include "migration/format/savevm.h"
#include "migration/multifd/codec.h"
#include "migration/multifd/wire.h"
#include "monitor/hmp.h"
#include "monitor/qmp-dispatch.h"
#include "qapi/qapi-commands.h"

static const char *dir;

static void write_seed(const char *name, const void *data, size_t len)
{
    g_autofree char *path = g_build_filename(dir, name, NULL);
    g_autoptr(GError) err = NULL;

    if (!g_file_set_contents(path, data, len, &err)) {
        fprintf(stderr, "gen-seeds: %s\n", err->message);
        exit(1);
    }
}

static void put(GByteArray *b, uint64_t v, int bytes, bool big_endian)
{
    for (int i = 0; i < bytes; i++) {
        int shift = 8 * (big_endian ? bytes - 1 - i : i);
        uint8_t c = (uint8_t)(v >> shift);

        g_byte_array_append(b, &c, 1);
    }
}

/* --- qmp ------------------------------------------------------------------ */

#define CAPS "{\"execute\": \"qmp_capabilities\"}\n"

static const char *const qmp_seeds[] = {
    CAPS "{\"execute\": \"query-status\", \"id\": 1}",
    CAPS "{\"execute\": \"migrate-set-parameters\", \"arguments\": "
    "{\"max-bandwidth\": 1048576, \"downtime-limit\": 300, "
    "\"multifd-channels\": 4}}{\"execute\": \"query-migrate-parameters\"}",
    CAPS "{\"execute\": \"migrate-set-capabilities\", \"arguments\": "
    "{\"capabilities\": [{\"capability\": \"postcopy-ram\", \"state\": true},"
    " {\"capability\": \"xbzrle\", \"state\": false}]}}"
    "{\"execute\": \"query-migrate-capabilities\"}",
    CAPS "{\"execute\": \"human-monitor-command\", \"arguments\": "
    "{\"command-line\": \"info migrate\"}, \"id\": \"a\"}"
    "{\"execute\": \"human-monitor-command\", \"arguments\": "
    "{\"command-line\": \"migrate_set_parameter max-bandwidth 1G\"}}"
    "{\"execute\": \"human-monitor-command\", \"arguments\": "
    "{\"command-line\": \"migrate -d tcp:127.0.0.1:4444\"}}",
    CAPS "{\"execute\": \"x-poke\", \"arguments\": {\"addr\": 4096, "
    "\"value\": 7}}{\"execute\": \"x-ram-digest\"}",
    CAPS "{\"execute\": \"qom-list\", \"arguments\": {\"path\": \"/\"}}"
    "{\"execute\": \"device-list-properties\", \"arguments\": "
    "{\"typename\": \"pvblk\"}}{\"execute\": \"query-cpus-fast\"}",
    "{\"execute\": \"qmp_capabilities\", \"arguments\": "
    "{\"enable\": [\"oob\"]}}{\"exec-oob\": \"query-status\", \"id\": [1]}",
    CAPS "{\"execute\": \"query-commands\"}{\"execute\": \"query-block\"}"
    "{\"execute\": \"query-chardev\"}{\"execute\": \"query-live-update\"}",
    CAPS "{\"execute\": \"migrate\", \"arguments\": {\"uri\": "
    "\"unix:/nonexistent\", \"detach\": true}}{\"execute\": "
    "\"migrate-incoming\", \"arguments\": {\"uri\": \"defer\"}}"
    "{\"execute\": \"migrate\", \"arguments\": {\"channels\": "
    "[{\"channel-type\": \"main\", \"addr\": {\"transport\": \"socket\", "
    "\"type\": \"unix\", \"path\": \"/x\"}}]}}",
    CAPS "{\"execute\": \"getfd\", \"arguments\": {\"fdname\": \"f\"}}"
    "{\"execute\": \"closefd\", \"arguments\": {\"fdname\": \"f\"}}"
    "{\"execute\": \"migrate-continue\", \"arguments\": "
    "{\"state\": \"pre-switchover\"}}{\"execute\": \"migrate_cancel\"}",
    "[1, 2, {\"a\": \"\\u0000\\ud800\"}] 12 \"x\" {\"execute\": 1} nul",
};

static void dict_word(FILE *f, const char *word)
{
    fputc('"', f);
    for (const char *p = word; *p; p++) {
        fprintf(f, *p == '"' || *p == '\\' ? "\\%c" : "%c", *p);
    }
    fputs("\"\n", f);
}

/* Every command name a client can send, through QMP or the HMP. */
static void write_qmp_dict(const char *path)
{
    static const char *const keys[] = {
        "execute", "exec-oob", "arguments", "id", "command-line", "oob",
        "capability", "state", "uri", "true", "false", "null", "\\u",
    };
    FILE *f = fopen(path, "w");

    if (!f) {
        perror(path);
        exit(1);
    }
    for (size_t i = 0; i < G_N_ELEMENTS(keys); i++) {
        dict_word(f, keys[i]);
    }
    for (size_t i = 0; i < qmp_command_count; i++) {
        dict_word(f, qmp_command_table[i].name);
    }
    for (const HmpCommand *c = hmp_commands; c->name; c++) {
        g_auto(GStrv) names = g_strsplit(c->name, "|", -1);
        for (char **n = names; *n; n++) {
            dict_word(f, *n);
        }
    }
    fclose(f);
}

static void qmp(const char *dict)
{
    for (size_t i = 0; i < G_N_ELEMENTS(qmp_seeds); i++) {
        g_autofree char *name = g_strdup_printf("seed-%02zu", i);
        write_seed(name, qmp_seeds[i], strlen(qmp_seeds[i]));
    }
    if (dict) {
        write_qmp_dict(dict);
    }
}

/* --- return-path ------------------------------------------------------------ */

static void rp_msg(GByteArray *b, uint16_t type, const void *data,
                   uint16_t len)
{
    put(b, type, 2, true);
    put(b, len, 2, true);
    g_byte_array_append(b, data, len);
}

static void rp_be32(GByteArray *b, uint16_t type, uint32_t v)
{
    uint8_t d[4] = { v >> 24, v >> 16, v >> 8, v };

    rp_msg(b, type, d, sizeof(d));
}

static void rp_request(GByteArray *b, const char *block, uint64_t off,
                       uint32_t len)
{
    g_autoptr(GByteArray) d = g_byte_array_new();

    put(d, off, 8, true);
    put(d, len, 4, true);
    if (block) {
        put(d, strlen(block), 1, true);
        g_byte_array_append(d, (const uint8_t *)block, strlen(block));
    }
    rp_msg(b, block ? MIG_RP_MSG_REQ_PAGES_ID : MIG_RP_MSG_REQ_PAGES,
           d->data, d->len);
}

/* fuzz-return-path.c's source has 64 MiB of RAM: 2048 bytes of bitmap. */
static void rp_bitmap(GByteArray *b, const char *block, uint64_t bytes)
{
    uint8_t head[256] = { (uint8_t)strlen(block) };

    memcpy(head + 1, block, strlen(block));
    rp_msg(b, MIG_RP_MSG_RECV_BITMAP, head, 1 + strlen(block));
    put(b, bytes, 8, true);
    for (uint64_t i = 0; i < bytes; i++) {
        put(b, i & 1 ? 0xff : 0x0f, 1, true);
    }
    put(b, RAMBLOCK_RECV_BITMAP_ENDING, 8, true);
}

static void rp_write(const char *name, uint8_t mode, GByteArray *b)
{
    g_byte_array_prepend(b, &mode, 1);
    write_seed(name, b->data, b->len);
}

static void return_path(void)
{
    g_autoptr(GByteArray) a = g_byte_array_new();
    g_autoptr(GByteArray) p = g_byte_array_new();
    g_autoptr(GByteArray) r = g_byte_array_new();

    rp_be32(a, MIG_RP_MSG_PONG, 7);
    rp_msg(a, MIG_RP_MSG_SWITCHOVER_ACK, NULL, 0);
    rp_be32(a, MIG_RP_MSG_SHUT, 0);
    rp_write("precopy", 0, a);

    rp_request(p, "pc.ram", 0, 4096);
    rp_request(p, NULL, 8192, 4096);
    rp_msg(p, MIG_RP_MSG_RUN_ACK, NULL, 0);
    rp_be32(p, MIG_RP_MSG_SHUT, 1);
    rp_write("postcopy", 1, p);

    rp_bitmap(r, "pc.ram", 2048);
    rp_be32(r, MIG_RP_MSG_RESUME_ACK, MIGRATION_RESUME_ACK_VALUE);
    rp_request(r, "pc.ram", 4096, 4096);
    rp_be32(r, MIG_RP_MSG_SHUT, 0);
    rp_write("recovery", 3, r);
}

/* --- pvblk ------------------------------------------------------------------ */

/* fuzz-pvblk.c's operations: [kind] [a] [b] [c] [value: 8 bytes LE]. */
static void pv_op(GByteArray *b, uint8_t kind, uint8_t a, uint8_t c,
                  uint64_t v)
{
    uint8_t head[4] = { kind, a, c, 0 };

    g_byte_array_append(b, head, sizeof(head));
    put(b, v, 8, false);
}

static void pv_reg(GByteArray *b, uint64_t reg, uint64_t v)
{
    pv_op(b, 0, reg / 8, 0, v);
}

/* The request the guest fills next, then avail_idx + 1 at @ring. */
static void pv_req(GByteArray *b, uint64_t ring, uint32_t avail,
                   uint32_t type, uint32_t nsec, uint64_t sector,
                   uint64_t buf)
{
    pv_op(b, 3, 0, 0, type | (uint64_t)nsec << 32);
    pv_op(b, 3, 1, 0, sector);
    pv_op(b, 3, 2, 0, buf);
    pv_op(b, 3, 3, 0, 0x100 + avail);
    pv_op(b, 2, (ring / 8) >> 8, (ring / 8) & 0xff, avail + 1);
}

static void pvblk(void)
{
    const uint64_t ring = 0x1000, buf = 0x10000;
    g_autoptr(GByteArray) b = g_byte_array_new();

    pv_reg(b, PVBLK_REG_RING_SIZE, 8);
    pv_reg(b, PVBLK_REG_RING_GPA, ring);
    pv_req(b, ring, 0, PVBLK_T_WRITE, 8, 0, buf);
    pv_req(b, ring, 1, PVBLK_T_READ, 8, 0, buf + 0x1000);
    pv_req(b, ring, 2, PVBLK_T_FLUSH, 0, 0, 0);
    pv_reg(b, PVBLK_REG_DOORBELL, 1);
    pv_op(b, 1, PVBLK_REG_CAPACITY / 8, 0, 0);
    write_seed("rw-flush", b->data, b->len);

    g_byte_array_set_size(b, 0);
    pv_reg(b, PVBLK_REG_RING_SIZE, PVBLK_RING_MAX);
    pv_reg(b, PVBLK_REG_RING_GPA, ring);
    pv_req(b, ring, 0, PVBLK_T_READ, PVBLK_MAX_SECTORS, 2040, buf);
    pv_req(b, ring, 1, 9, 1, 0, buf);
    pv_req(b, ring, 2, PVBLK_T_READ, 1, 0, (512u << 10) - 256);
    pv_reg(b, PVBLK_REG_DOORBELL, 1);
    pv_reg(b, PVBLK_REG_RING_SIZE, 4);
    pv_reg(b, PVBLK_REG_DOORBELL, 1);
    write_seed("edges", b->data, b->len);
}

/* --- http ------------------------------------------------------------------- */

static void http_head(GByteArray *b, uint32_t start, uint16_t len,
                      uint16_t status, uint8_t result)
{
    put(b, start, 4, false);
    put(b, len - 1, 2, false);
    put(b, status, 2, false);
    put(b, result, 1, false);
}

static void http_line(GByteArray *b, const char *line)
{
    put(b, 0, 1, false);
    put(b, strlen(line), 2, false);
    g_byte_array_append(b, (const uint8_t *)line, strlen(line));
}

static void http_body(GByteArray *b, uint16_t n)
{
    put(b, 1, 1, false);
    put(b, n, 2, false);
}

static void http_seed(const char *name, uint32_t start, uint16_t len,
                      uint16_t status, const char *const *lines,
                      uint16_t body)
{
    g_autoptr(GByteArray) b = g_byte_array_new();

    http_head(b, start, len, status, 0);
    for (; *lines; lines++) {
        http_line(b, *lines);
    }
    if (body) {
        http_body(b, body);
    }
    write_seed(name, b->data, b->len);
}

static void http(void)
{
    static const char *const probe[] = {
        "HTTP/1.1 206 Partial Content\r\n",
        "Content-Range: bytes 0-0/1048576\r\n", "\r\n", NULL };
    static const char *const chunk[] = {
        "HTTP/1.1 302 Found\r\n", "Location: /b\r\n", "\r\n",
        "HTTP/1.1 206 Partial Content\r\n",
        "content-range: bytes 65536-131071/*\r\n", "\r\n", NULL };
    static const char *const empty[] = {
        "HTTP/1.1 416 Range Not Satisfiable\r\n",
        "Content-Range: bytes */0\r\n", "\r\n", NULL };
    static const char *const whole[] = {
        "HTTP/1.1 200 OK\r\n", "Content-Length: 4096\r\n", "\r\n", NULL };

    http_seed("probe", 0, 1, 206, probe, 1);
    http_seed("chunk", 65536, 65535, 206, chunk, 65535);
    http_seed("empty", 0, 1, 416, empty, 0);
    http_seed("no-ranges", 0, 4096, 200, whole, 4096);
}

/* --- multifd ----------------------------------------------------------------- */

/* One packet of fuzz-multifd.c's block @block: @normal pages of a pattern
 * at offsets 0, 4 KiB, ..., then @zero pages after them. */
static void mf_packet(GByteArray *b, MultiFDCodec *codec, uint32_t flag,
                      const char *block, unsigned normal, unsigned zero,
                      uint32_t sync)
{
    static uint8_t data[MULTIFD_PAGES_PER_PACKET][MULTIFD_PAGE_SIZE];
    uint8_t *pages[MULTIFD_PAGES_PER_PACKET];
    uint8_t hdr[MULTIFD_HDR_SIZE];
    MultiFDPacket p = {
        .flags = flag | sync, .normal_pages = normal, .zero_pages = zero,
        .next_packet_size = normal * MULTIFD_PAGE_SIZE, .packet_num = b->len,
    };
    const uint8_t *payload = data[0];

    g_strlcpy(p.block, block, sizeof(p.block));
    for (unsigned i = 0; i < normal + zero; i++) {
        p.offset[i] = (uint64_t)i * MULTIFD_PAGE_SIZE;
        pages[i] = data[i];
        memset(data[i], 'a' + i % 26, 64);  /* compressible, not zero */
    }
    if (codec && normal) {
        ssize_t len = multifd_codec_compress(codec, pages, normal);
        if (len < 0) {
            fprintf(stderr, "gen-seeds: compressing failed\n");
            exit(1);
        }
        p.next_packet_size = (uint32_t)len;
        payload = multifd_codec_buffer(codec);
    }
    multifd_packet_encode(&p, hdr);
    g_byte_array_append(b, hdr, sizeof(hdr));
    g_byte_array_append(b, payload, p.next_packet_size);
}

static void multifd(void)
{
    static const char *const names[] = { "none", "zlib", "zstd" };
    static const uint32_t flags[] = {
        MULTIFD_FLAG_NOCOMP, MULTIFD_FLAG_ZLIB, MULTIFD_FLAG_ZSTD,
    };

    for (unsigned c = 0; c < 3; c++) {
        /* 128 uncompressed pages would be a 512 KiB input */
        for (unsigned full = 0; full < (c ? 2 : 1); full++) {
            g_autoptr(GByteArray) b = g_byte_array_new();
            g_autoptr(GError) err = NULL;
            MultiFDCodec *codec = multifd_codec_new(flags[c], 1, true, &err);
            uint8_t init[MULTIFD_INIT_SIZE];

            if (err) {
                fprintf(stderr, "gen-seeds: %s\n", err->message);
                exit(1);
            }
            put(b, c | (2 - 1) << 2, 1, false);     /* 2 channels */
            multifd_init_encode(&(MultiFDInit){ .id = 1 }, init);
            g_byte_array_append(b, init, sizeof(init));
            if (full) {     /* the largest packet: its bounds */
                mf_packet(b, codec, flags[c], "pc.ram",
                          MULTIFD_PAGES_PER_PACKET, 0, 0);
            } else {
                mf_packet(b, codec, flags[c], "pc.ram", 3, 2, 0);
                mf_packet(b, codec, flags[c], "tiny", 1, 0, 0);
                mf_packet(b, codec, flags[c], "tiny", 0, 1, 0);
                mf_packet(b, codec, flags[c], "", 0, 0, MULTIFD_FLAG_SYNC);
            }
            g_autofree char *name = g_strdup_printf("%s%s", names[c],
                                                    full ? "-full" : "");
            write_seed(name, b->data, b->len);
            multifd_codec_free(codec);
        }
    }
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: gen-seeds qmp|return-path|pvblk|http|multifd "
                "DIR [DICT]\n");
        return 2;
    }
    dir = argv[2];
    if (!strcmp(argv[1], "qmp")) {
        qmp(argc > 3 ? argv[3] : NULL);
    } else if (!strcmp(argv[1], "return-path")) {
        return_path();
    } else if (!strcmp(argv[1], "pvblk")) {
        pvblk();
    } else if (!strcmp(argv[1], "http")) {
        http();
    } else if (!strcmp(argv[1], "multifd")) {
        multifd();
    } else {
        fprintf(stderr, "gen-seeds: no target '%s'\n", argv[1]);
        return 2;
    }
    return 0;
}
