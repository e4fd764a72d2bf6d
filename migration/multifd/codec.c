/*
 * zlib and zstd for multifd packets (codec.h).  Input from the network is
 * untrusted: the compressed size was bounded by the packet's page count
 * before it was read, inflating never writes past the packet's pages, and
 * a stream that ends early, runs long or is corrupt is an error.
 *
 * zlib: the packet's pages are copied first (the guest may write them
 * meanwhile, and deflate does not promise to cope with input that changes
 * under it), then deflated in one call.  Level 1, the default, deflates
 * with ISA-L's igzip: the same zlib stream format, which any inflate
 * reads, about five times as fast as zlib's level 1 here at the same
 * ratio (docs/migration.md); a packet igzip cannot fit in the buffer
 * goes through zlib.  The destination inflates with igzip's inflate too
 * (about 1.4 times zlib's), which refuses what zlib would refuse.
 */
#include <errno.h>
#include <string.h>
#include <isa-l/igzip_lib.h>
#include <zlib.h>
#include <zstd.h>
#include "migration/multifd/codec.h"
#include "migration/multifd/wire.h"
#include "util/error.h"

#define PACKET_BYTES    (MULTIFD_PAGES_PER_PACKET * MULTIFD_PAGE_SIZE)
/* a frame of at most PACKET_BYTES needs no larger window */
#define ZSTD_WINDOW_LOG_MAX 20

/* multifd-zlib-level that igzip serves (its level 1 too) */
#define IGZIP_LEVEL 1

struct MultiFDCodec {
    uint32_t flag;
    bool compress;
    z_stream zs;
    uint8_t *pages_copy;        /* zlib source: the packet's pages */
    struct isal_zstream *igzip; /* level 1; NULL: zlib deflates */
    uint8_t *igzip_buf;
    struct inflate_state *inflate;  /* the destination's, for zlib */
    ZSTD_CCtx *zc;
    ZSTD_DCtx *zd;
    uint8_t *buf;
};

uint32_t multifd_codec_flag(MultiFDCompression method)
{
    switch (method) {
    case MULTI_FD_COMPRESSION_ZLIB:
        return MULTIFD_FLAG_ZLIB;
    case MULTI_FD_COMPRESSION_ZSTD:
        return MULTIFD_FLAG_ZSTD;
    default:
        return MULTIFD_FLAG_NOCOMP;
    }
}

uint32_t multifd_codec_max_payload(uint32_t flag)
{
    switch (flag) {
    case MULTIFD_FLAG_ZLIB:
        return (uint32_t)compressBound(PACKET_BYTES);
    case MULTIFD_FLAG_ZSTD:
        return (uint32_t)ZSTD_compressBound(PACKET_BYTES);
    }
    return 0;
}

static bool zlib_init(MultiFDCodec *c, int level, GError **errp)
{
    int ret;

    if (!c->compress) {
        c->inflate = g_new0(struct inflate_state, 1);
        isal_inflate_init(c->inflate);
        return true;
    }
    ret = deflateInit(&c->zs, level);
    if (ret != Z_OK) {
        error_setg(errp, "multifd: zlib deflate setup failed (%d)", ret);
        return false;
    }
    c->pages_copy = g_malloc(PACKET_BYTES);
    if (level == IGZIP_LEVEL) {
        c->igzip = g_new0(struct isal_zstream, 1);
        c->igzip_buf = g_malloc(ISAL_DEF_LVL1_DEFAULT);
    }
    return true;
}

static bool zstd_init(MultiFDCodec *c, int level, GError **errp)
{
    size_t ret;

    if (c->compress) {
        c->zc = ZSTD_createCCtx();
        ret = c->zc ? ZSTD_CCtx_setParameter(c->zc, ZSTD_c_compressionLevel,
                                             level) : 1;
    } else {
        c->zd = ZSTD_createDCtx();
        ret = c->zd ? ZSTD_DCtx_setParameter(c->zd, ZSTD_d_windowLogMax,
                                             ZSTD_WINDOW_LOG_MAX) : 1;
    }
    if (!(c->zc || c->zd) || ZSTD_isError(ret)) {
        error_setg(errp, "multifd: zstd setup failed");
        return false;
    }
    return true;
}

MultiFDCodec *multifd_codec_new(uint32_t flag, int level, bool compress,
                                GError **errp)
{
    MultiFDCodec *c;
    bool ok;

    if (flag == MULTIFD_FLAG_NOCOMP) {
        return NULL;
    }
    c = g_new0(MultiFDCodec, 1);
    c->flag = flag;
    c->compress = compress;
    c->buf = g_malloc(multifd_codec_max_payload(flag));
    ok = flag == MULTIFD_FLAG_ZLIB ? zlib_init(c, level, errp)
                                   : zstd_init(c, level, errp);
    if (!ok) {
        multifd_codec_free(c);
        return NULL;
    }
    return c;
}

void multifd_codec_free(MultiFDCodec *c)
{
    if (!c) {
        return;
    }
    if (c->flag == MULTIFD_FLAG_ZLIB && c->compress) {
        deflateEnd(&c->zs);
    }
    g_free(c->inflate);
    ZSTD_freeCCtx(c->zc);
    ZSTD_freeDCtx(c->zd);
    g_free(c->pages_copy);
    g_free(c->igzip);
    g_free(c->igzip_buf);
    g_free(c->buf);
    g_free(c);
}

uint8_t *multifd_codec_buffer(MultiFDCodec *c)
{
    return c->buf;
}

/* The copy's first @len bytes as one zlib stream; -ENOSPC if too big. */
static ssize_t igzip_compress(MultiFDCodec *c, uint32_t len)
{
    struct isal_zstream *s = c->igzip;

    isal_deflate_stateless_init(s);
    s->level = IGZIP_LEVEL;
    s->level_buf = c->igzip_buf;
    s->level_buf_size = ISAL_DEF_LVL1_DEFAULT;
    s->gzip_flag = IGZIP_ZLIB;
    s->end_of_stream = 1;
    s->next_in = c->pages_copy;
    s->avail_in = len;
    s->next_out = c->buf;
    s->avail_out = multifd_codec_max_payload(c->flag);
    switch (isal_deflate_stateless(s)) {
    case COMP_OK:
        return (ssize_t)s->total_out;
    case STATELESS_OVERFLOW:
        return -ENOSPC;
    default:
        return -EIO;
    }
}

static ssize_t zlib_compress(MultiFDCodec *c, uint8_t *const *pages,
                             unsigned n)
{
    z_stream *zs = &c->zs;
    uint32_t len = n * MULTIFD_PAGE_SIZE;

    for (unsigned i = 0; i < n; i++) {
        memcpy(c->pages_copy + (size_t)i * MULTIFD_PAGE_SIZE, pages[i],
               MULTIFD_PAGE_SIZE);
    }
    if (c->igzip) {
        ssize_t ret = igzip_compress(c, len);
        if (ret != -ENOSPC) {
            return ret;
        }
    }
    if (deflateReset(zs) != Z_OK) {
        return -EIO;
    }
    zs->next_in = c->pages_copy;
    zs->avail_in = len;
    zs->next_out = c->buf;
    zs->avail_out = multifd_codec_max_payload(c->flag);
    /* compressBound() room: one call finishes the stream */
    if (deflate(zs, Z_FINISH) != Z_STREAM_END) {
        return -EIO;
    }
    return (ssize_t)zs->total_out;
}

static ssize_t zstd_compress(MultiFDCodec *c, uint8_t *const *pages,
                             unsigned n)
{
    ZSTD_outBuffer out = { c->buf, multifd_codec_max_payload(c->flag), 0 };

    ZSTD_CCtx_reset(c->zc, ZSTD_reset_session_only);
    ZSTD_CCtx_setPledgedSrcSize(c->zc, (unsigned long long)n *
                                       MULTIFD_PAGE_SIZE);
    for (unsigned i = 0; i < n; i++) {
        ZSTD_EndDirective end = i + 1 == n ? ZSTD_e_end : ZSTD_e_continue;
        ZSTD_inBuffer in = { pages[i], MULTIFD_PAGE_SIZE, 0 };
        size_t left;

        do {
            left = ZSTD_compressStream2(c->zc, &out, &in, end);
            if (ZSTD_isError(left)) {
                return -EIO;
            }
        } while ((in.pos < in.size || (end == ZSTD_e_end && left)) &&
                 out.pos < out.size);
        if (in.pos < in.size || (end == ZSTD_e_end && left)) {
            return -ENOSPC;
        }
    }
    return (ssize_t)out.pos;
}

ssize_t multifd_codec_compress(MultiFDCodec *c, uint8_t *const *pages,
                               unsigned n)
{
    return c->flag == MULTIFD_FLAG_ZLIB ? zlib_compress(c, pages, n)
                                        : zstd_compress(c, pages, n);
}

static const char *igzip_error(int ret)
{
    switch (ret) {
    case ISAL_INVALID_BLOCK:
        return "invalid block";
    case ISAL_INVALID_SYMBOL:
        return "invalid symbol";
    case ISAL_INVALID_LOOKBACK:
        return "invalid distance";
    case ISAL_INVALID_WRAPPER:
    case ISAL_UNSUPPORTED_METHOD:
        return "not a zlib stream";
    case ISAL_INCORRECT_CHECKSUM:
        return "checksum mismatch";
    case ISAL_NEED_DICT:
        return "needs a dictionary";
    }
    return ret == ISAL_DECOMP_OK ? "size mismatch" : "truncated";
}

static bool zlib_decompress(MultiFDCodec *c, uint32_t len,
                            uint8_t *const *pages, unsigned n, GError **errp)
{
    struct inflate_state *st = c->inflate;
    int ret = ISAL_DECOMP_OK;
    unsigned filled = 0;

    isal_inflate_reset(st);
    st->crc_flag = ISAL_ZLIB;       /* the header, and the adler32 checked */
    st->next_in = c->buf;
    st->avail_in = len;
    for (; filled < n; filled++) {
        st->next_out = pages[filled];
        st->avail_out = MULTIFD_PAGE_SIZE;
        ret = isal_inflate(st);
        if (ret != ISAL_DECOMP_OK || st->avail_out) {
            break;      /* failed, or ended before the page was full */
        }
    }
    if (filled == n && st->block_state != ISAL_BLOCK_FINISH) {
        uint8_t more;   /* the end of the stream: nothing more may come */

        st->next_out = &more;
        st->avail_out = sizeof(more);
        ret = isal_inflate(st);
        if (!st->avail_out) {
            filled++;   /* inflates to more than the packet's pages */
        }
    }
    /* bytes after the stream: left, or read ahead into the bit buffer */
    if (ret != ISAL_DECOMP_OK || filled != n ||
        st->block_state != ISAL_BLOCK_FINISH ||
        st->avail_in || st->read_in_length >= 8 ||
        st->total_out != n * MULTIFD_PAGE_SIZE) {
        error_setg(errp, "zlib: the packet's %u bytes do not inflate to "
                   "its %u pages (%s)", len, n,
                   igzip_error(ret != ISAL_DECOMP_OK ? ret :
                               st->block_state == ISAL_BLOCK_FINISH ?
                               ISAL_DECOMP_OK : ISAL_END_INPUT));
        return false;
    }
    return true;
}

static bool zstd_decompress(MultiFDCodec *c, uint32_t len,
                            uint8_t *const *pages, unsigned n, GError **errp)
{
    ZSTD_inBuffer in = { c->buf, len, 0 };
    size_t ret = 1;
    unsigned filled = 0;

    ZSTD_DCtx_reset(c->zd, ZSTD_reset_session_only);
    for (unsigned i = 0; i < n; i++) {
        ZSTD_outBuffer out = { pages[i], MULTIFD_PAGE_SIZE, 0 };

        do {
            ret = ZSTD_decompressStream(c->zd, &out, &in);
        } while (!ZSTD_isError(ret) && ret && out.pos < out.size &&
                 in.pos < in.size);
        if (ZSTD_isError(ret) || out.pos < out.size) {
            break;
        }
        filled++;
    }
    if (filled == n && ret && !ZSTD_isError(ret) && in.pos < in.size) {
        ZSTD_outBuffer none = { NULL, 0, 0 };     /* the frame's epilogue */
        ret = ZSTD_decompressStream(c->zd, &none, &in);
    }
    if (ZSTD_isError(ret) || ret != 0 || filled != n || in.pos != in.size) {
        error_setg(errp, "zstd: the packet's %u bytes do not decompress to "
                   "its %u pages (%s)", len, n,
                   ZSTD_isError(ret) ? ZSTD_getErrorName(ret)
                                     : "size mismatch");
        return false;
    }
    return true;
}

bool multifd_codec_decompress(MultiFDCodec *c, uint32_t len,
                              uint8_t *const *pages, unsigned n,
                              GError **errp)
{
    return c->flag == MULTIFD_FLAG_ZLIB ? zlib_decompress(c, len, pages, n,
                                                          errp)
                                        : zstd_decompress(c, len, pages, n,
                                                          errp);
}
