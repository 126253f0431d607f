/* fuzz_session.c — libFuzzer harness for session inference (formats/traces/session.h): the
 * first byte picks the pool's limits, the rest is a trace log image (plain JSON Lines or gzip)
 * whose exchanges are fed in order. Hostile bodies (deep, wide, odd types), conns and times
 * must never crash, leak or loop; every session it writes must serialize. */
#include <stddef.h>
#include <stdint.h>

#include "session.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    struct session_infer_opts so = {.max_open = 1 + (data[0] & 7),
                                    .idle_us = (data[0] & 8) ? 1000000 : 0};
    struct tlog_reader_opts ro = {.max_line = 1 << 20};
    char err[256];
    struct tlog_reader *r = tlog_reader_open_mem(data + 1, size - 1, &ro, err, sizeof err);
    if (!r)
        return 0;
    struct session_infer *s = session_infer_new(&so);
    struct tlog_record rec;
    tlog_record_init(&rec);
    for (int i = 0; s && i < 10000; i++) { /* bounded: each read consumes a line or ends */
        int rc = tlog_read(r, &rec);
        if (rc == 0 || (rc < 0 && rc != TLOG_ERR_FORMAT))
            break;
        if (rc == 1 && rec.type == TLOG_REC_EXCHANGE && session_infer_add(s, &rec.x) == 0) {
            struct buf b;
            buf_init(&b, 1 << 24);
            (void)tlog_exchange_to_line(&rec.x, NULL, &b);
            buf_free(&b);
        }
    }
    tlog_record_free(&rec);
    session_infer_free(s);
    tlog_reader_close(r);
    return 0;
}
