#include <glib.h>
#include <openssl/evp.h>
#include "util/sha256.h"

char *sha256_hex(const void *data, size_t len)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    GString *hex;

    if (!EVP_Digest(data, len, md, &md_len, EVP_sha256(), NULL)) {
        g_error("EVP_Digest(SHA-256) failed");
    }
    hex = g_string_sized_new(2 * md_len + 1);
    for (unsigned int i = 0; i < md_len; i++) {
        g_string_append_printf(hex, "%02x", md[i]);
    }
    return g_string_free(hex, FALSE);
}
