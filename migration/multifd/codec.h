/*
 * multifd-compression: each packet's normal pages compressed into one
 * buffer per channel (QEMU's approach), every packet a stream of its own
 * (zlib: one zlib stream, deflated by ISA-L's igzip at level 1 and
 * inflated by igzip; zstd: one frame), and inflated straight into the
 * guest pages on the destination.
 *
 * A codec belongs to one channel's thread.
 */
#ifndef FERRY_MIGRATION_MULTIFD_CODEC_H
#define FERRY_MIGRATION_MULTIFD_CODEC_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <glib.h>
#include "ferry/migration.h"

typedef struct MultiFDCodec MultiFDCodec;

/* The packet flag of @method (MULTIFD_FLAG_NOCOMP for none). */
uint32_t multifd_codec_flag(MultiFDCompression method);
/* The most compressed bytes a packet of @flag may announce. */
uint32_t multifd_codec_max_payload(uint32_t flag);
/* NULL (without error) for MULTIFD_FLAG_NOCOMP. */
MultiFDCodec *multifd_codec_new(uint32_t flag, int level, bool compress,
                                GError **errp);
void multifd_codec_free(MultiFDCodec *c);
/* The buffer compressed bytes are in (max_payload bytes). */
uint8_t *multifd_codec_buffer(MultiFDCodec *c);
/* Compresses @n pages into the buffer; its length, or -errno. */
ssize_t multifd_codec_compress(MultiFDCodec *c, uint8_t *const *pages,
                               unsigned n);
/*
 * Inflates the buffer's first @len bytes into exactly @n pages; false
 * with @errp set on a corrupt stream or a size mismatch.
 */
bool multifd_codec_decompress(MultiFDCodec *c, uint32_t len,
                              uint8_t *const *pages, unsigned n,
                              GError **errp);

#endif
