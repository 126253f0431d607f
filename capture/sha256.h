/* sha256.h — SHA-256 (FIPS 180-4) for --hash-prompts.
 *
 * Capture keeps a digest of each request body so two traces can be checked for
 * replay-equivalence without storing prompts. Written here because the project's dependency
 * list (libc, zlib, cJSON, libcurl, libpcap) has no hash; tested against the FIPS 180 vectors. */
#ifndef LLMTRACE_CAPTURE_SHA256_H
#define LLMTRACE_CAPTURE_SHA256_H

#include <stddef.h>
#include <stdint.h>

struct sha256 {
    uint32_t h[8];
    uint64_t total;          /* bytes hashed so far */
    uint8_t block[64];
    size_t used;             /* bytes waiting in block */
};

void sha256_init(struct sha256 *s);
void sha256_update(struct sha256 *s, const void *data, size_t len);
/* Writes the 32-byte digest; s must be re-initialised before reuse. */
void sha256_final(struct sha256 *s, uint8_t out[32]);
/* Lower-case hex of the digest into hex[65] (NUL-terminated). */
void sha256_final_hex(struct sha256 *s, char hex[65]);

#endif
