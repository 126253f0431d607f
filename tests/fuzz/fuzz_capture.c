/* fuzz_capture.c — libFuzzer harness over capture's whole packet path (link/IP decode, IPv4
 * reassembly, TCP reassembly, HTTP pairing, llm_stream, record serialization).
 *
 * Input: byte 0 picks the link type; then frames as [u16 little-endian length][u16 time step
 * in µs][bytes]. Tiny flow / hold limits make eviction and gap paths reachable. Seeds are the
 * golden pcaps converted to this form (tests/fuzz/corpus/capture). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "engine.h"

static const int fuzz_dlts[] = {PKT_DLT_EN10MB, PKT_DLT_LINUX_SLL, PKT_DLT_LINUX_SLL2,
                                PKT_DLT_NULL, PKT_DLT_LOOP, PKT_DLT_RAW, PKT_DLT_IPV4,
                                PKT_DLT_IPV6};

static int fuzz_emit(void *user, const struct tlog_exchange *x)
{
    struct buf *b = user;
    buf_reset(b);
    struct tlog_write_opts o = {0, 0};
    return tlog_exchange_to_line(x, &o, b) ? 1 : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    struct capture_opts o;
    memset(&o, 0, sizeof o);
    o.all_paths = data[0] & 0x80;
    o.hash_prompts = 1;
    o.tcp.max_flows = 4;
    o.tcp.max_ooo_bytes = 4096;
    o.tcp.idle_us = 2000000;
    o.max_request_body = 1 << 16;
    int dlt = fuzz_dlts[(data[0] & 0x7f) % (sizeof fuzz_dlts / sizeof fuzz_dlts[0])];
    struct buf line;
    buf_init(&line, 1u << 26);
    struct capture_engine *e = capture_engine_new(&o, fuzz_emit, &line);
    if (!e)
        return 0;
    size_t i = 1;
    int64_t ts = 1700000000000000LL;
    while (size - i >= 4) {
        size_t len = (size_t)data[i] | (size_t)data[i + 1] << 8;
        ts += (int64_t)(data[i + 2] | data[i + 3] << 8);
        i += 4;
        if (len > size - i)
            len = size - i;
        capture_engine_packet(e, dlt, data + i, len, ts);
        i += len;
    }
    capture_engine_finish(e, ts);
    capture_engine_free(e);
    buf_free(&line);
    return 0;
}
