/* fuzz_tlog.c — libFuzzer harness for the trace-log reader (formats/tlog/tlog_reader.c): arbitrary
 * bytes as a whole log image, read to the end with and without body skipping. The reader must
 * never crash, over-read or leak, whatever the gzip framing or JSON inside. */
#include <stddef.h>
#include <stdint.h>

#include "tlog.h"

static void fuzz_tlog_read_all(const uint8_t *data, size_t size, int skip_bodies)
{
    struct tlog_reader_opts o = {0};
    o.skip_bodies = skip_bodies;
    o.keep_extra = !skip_bodies;
    o.max_line = 1 << 20;
    char err[256];
    struct tlog_reader *r = tlog_reader_open_mem(data, size, &o, err, sizeof err);
    if (!r)
        return;
    struct tlog_record rec;
    tlog_record_init(&rec);
    /* bounded: each call consumes at least one line or ends the stream */
    for (int i = 0; i < 100000; i++) {
        int rc = tlog_read(r, &rec);
        if (rc == 0 || (rc < 0 && rc != TLOG_ERR_FORMAT))
            break;
        if (rc == 1 && rec.type == TLOG_REC_EXCHANGE) {
            /* what was read must serialize again */
            struct buf b;
            buf_init(&b, 1 << 24);
            (void)tlog_exchange_to_line(&rec.x, NULL, &b);
            buf_free(&b);
            tlog_exchange_derive_tokens(&rec.x);
        }
    }
    tlog_record_free(&rec);
    char desc[256];
    tlog_reader_describe(r, desc, sizeof desc);
    tlog_reader_close(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_tlog_read_all(data, size, 0);
    fuzz_tlog_read_all(data, size, 1);
    return 0;
}
