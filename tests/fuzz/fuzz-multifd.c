/*
 * libFuzzer target for what a multifd channel brings to a destination
 * (migration/multifd/wire.c and codec.c, as recv.c uses them): the init
 * message, then packets, each a header and its payload, applied to a
 * scratch guest RAM.  Byte 0 of an input picks the destination's settings
 * (bits 0-1: multifd-compression none, zlib, zstd, none again; bits 2-7:
 * multifd-channels - 1); the rest is the channel's bytes, read in order
 * as a channel thread reads them, at most MF_FUZZ_PACKETS packets.
 *
 * The scratch RAM is two blocks, "pc.ram" (MF_FUZZ_RAM bytes) and "tiny"
 * (one page), each its own allocation so ASan sees a page written past
 * its block.  A packet's pages go where recv.c puts them: normal pages
 * read (or inflated) into the block at their offsets, zero pages cleared.
 *
 * Besides crashes, sanitizer reports, leaks and out-of-memory (a packet
 * must not make the destination allocate more than its codec's buffer),
 * these rules abort:
 *  - a refusal says why, a success sets no error (fuzz_check_outcome);
 *  - a decoded init names an id below multifd-channels;
 *  - a decoded header holds at most 128 pages, a NUL-terminated block
 *    name, the compression asked for, and a payload size that fits its
 *    pages (exactly 4 KiB each uncompressed, at most the codec's bound
 *    compressed; none without normal pages);
 *  - offsets accepted are page-aligned and inside their block;
 *  - a packet that decompressed filled its pages and left the pages of
 *    the block that it does not name as they were (checked on "tiny").
 *
 * Built and run by `make fuzz` (FUZZ_TARGET=multifd); seeds from
 * gen-seeds.c (valid channels of each compression).
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fuzz-outcome.h"
#include "migration/multifd/codec.h"
#include "migration/multifd/wire.h"
#include "util/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MF_FUZZ_RAM      (1u << 20)
#define MF_FUZZ_PACKETS  8

#define broken(...) fuzz_broken("fuzz-multifd", "(binary)", __VA_ARGS__)

static const uint8_t no_uuid[16];
static const uint32_t flags[4] = {
    MULTIFD_FLAG_NOCOMP, MULTIFD_FLAG_ZLIB, MULTIFD_FLAG_ZSTD,
    MULTIFD_FLAG_NOCOMP,
};

typedef struct Block {
    const char *name;
    uint8_t *host;
    uint64_t size;
} Block;

typedef struct Input {
    const uint8_t *p;
    size_t left;
} Input;

/* The next @len bytes of the channel, or NULL when it ends before. */
static const uint8_t *take(Input *in, size_t len)
{
    const uint8_t *p = in->p;

    if (in->left < len) {
        return NULL;
    }
    in->p += len;
    in->left -= len;
    return p;
}

static void check_header(const MultiFDPacket *p, uint32_t flag,
                         uint32_t max_payload)
{
    if (p->normal_pages + p->zero_pages > MULTIFD_PAGES_PER_PACKET ||
        !memchr(p->block, 0, sizeof(p->block)) ||
        (p->flags & MULTIFD_FLAG_COMPRESS_MASK) != flag) {
        broken("a header accepted with %u + %u pages, flags 0x%x",
               p->normal_pages, p->zero_pages, p->flags);
    }
    if (flag == MULTIFD_FLAG_NOCOMP ?
        p->next_packet_size != p->normal_pages * MULTIFD_PAGE_SIZE :
        p->next_packet_size > max_payload ||
        (p->normal_pages == 0) != (p->next_packet_size == 0)) {
        broken("a header accepted with %u payload bytes for %u pages",
               p->next_packet_size, p->normal_pages);
    }
}

/* recv.c's load_pages() on the scratch RAM; false with @errp on refusal. */
static bool load_packet(Input *in, const MultiFDPacket *p, MultiFDCodec *codec,
                        Block *blocks, unsigned nr_blocks, GError **errp)
{
    uint8_t *pages[MULTIFD_PAGES_PER_PACKET];
    unsigned n = p->normal_pages + p->zero_pages;
    Block *b = NULL;

    if (!n) {
        return true;
    }
    for (unsigned i = 0; i < nr_blocks && !b; i++) {
        b = strcmp(blocks[i].name, p->block) ? NULL : &blocks[i];
    }
    if (!b) {
        error_setg(errp, "unknown RAM block '%s'", p->block);
        return false;
    }
    if (!multifd_packet_check_offsets(p, b->size, errp)) {
        return false;
    }
    for (unsigned i = 0; i < n; i++) {
        if (p->offset[i] % MULTIFD_PAGE_SIZE ||
            p->offset[i] + MULTIFD_PAGE_SIZE > b->size) {
            broken("offset 0x%llx accepted in a block of %llu bytes",
                   (unsigned long long)p->offset[i],
                   (unsigned long long)b->size);
        }
        pages[i] = b->host + p->offset[i];
    }
    const uint8_t *payload = take(in, p->next_packet_size);
    if (!payload) {
        error_setg(errp, "stream ended inside the packet's pages");
        return false;
    }
    if (p->normal_pages && codec) {
        memcpy(multifd_codec_buffer(codec), payload, p->next_packet_size);
        if (!multifd_codec_decompress(codec, p->next_packet_size, pages,
                                      p->normal_pages, errp)) {
            return false;
        }
    } else {
        for (unsigned i = 0; i < p->normal_pages; i++) {
            memcpy(pages[i], payload + (size_t)i * MULTIFD_PAGE_SIZE,
                   MULTIFD_PAGE_SIZE);
        }
    }
    for (unsigned i = p->normal_pages; i < n; i++) {
        memset(pages[i], 0, MULTIFD_PAGE_SIZE);
    }
    return true;
}

/* The channel after byte 0: false once it was refused or ended. */
static bool run_channel(Input *in, unsigned channels, uint32_t flag,
                        MultiFDCodec *codec, Block *blocks,
                        unsigned nr_blocks)
{
    uint32_t max_payload = multifd_codec_max_payload(flag);
    const uint8_t *buf = take(in, MULTIFD_INIT_SIZE);
    g_autoptr(GError) err = NULL;
    MultiFDInit init;

    if (!buf) {
        return false;
    }
    bool ok = multifd_init_decode(buf, no_uuid, channels, &init, &err);
    fuzz_check_outcome("fuzz-multifd", "(binary)", ok, err, false);
    if (!ok) {
        return false;
    }
    if (init.id >= channels) {
        broken("channel id %u accepted with %u channels", init.id, channels);
    }
    for (unsigned k = 0; k < MF_FUZZ_PACKETS; k++) {
        MultiFDPacket p;

        buf = take(in, MULTIFD_HDR_SIZE);
        if (!buf) {
            return false;
        }
        ok = multifd_packet_decode(buf, flag, max_payload, &p, &err);
        if (ok) {
            check_header(&p, flag, max_payload);
            uint8_t tiny[MULTIFD_PAGE_SIZE];
            memcpy(tiny, blocks[1].host, sizeof(tiny));
            ok = load_packet(in, &p, codec, blocks, nr_blocks, &err);
            if (ok && strcmp(p.block, blocks[1].name) &&
                memcmp(tiny, blocks[1].host, sizeof(tiny))) {
                broken("a packet for '%s' changed block 'tiny'", p.block);
            }
        }
        fuzz_check_outcome("fuzz-multifd", "(binary)", ok, err, false);
        if (!ok) {
            return false;
        }
    }
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    g_autoptr(GError) err = NULL;
    Block blocks[2] = {
        { "pc.ram", g_malloc0(MF_FUZZ_RAM), MF_FUZZ_RAM },
        { "tiny", g_malloc0(MULTIFD_PAGE_SIZE), MULTIFD_PAGE_SIZE },
    };

    if (size >= 1) {
        uint32_t flag = flags[data[0] & 3];
        unsigned channels = (data[0] >> 2) + 1;
        Input in = { data + 1, size - 1 };
        MultiFDCodec *codec = multifd_codec_new(flag, 0, false, &err);

        if (flag != MULTIFD_FLAG_NOCOMP && !codec) {
            broken("no %s decoder: %s", multifd_compress_name(flag),
                   err ? err->message : "(no error)");
        }
        run_channel(&in, channels, flag, codec, blocks, 2);
        multifd_codec_free(codec);
    }
    g_free(blocks[0].host);
    g_free(blocks[1].host);
    return 0;
}
