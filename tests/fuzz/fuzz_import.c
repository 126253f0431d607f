/* fuzz_import.c — libFuzzer harness over every trace importer (formats/traces/import.h): the first
 * byte picks the format and the options, the rest is the input. Each parsed row is also turned
 * into an exchange line so the record builder and synthesizer see hostile values too. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "import.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    enum import_format f = (enum import_format)(1 + data[0] % (IMPORT_FORMAT_COUNT - 1));
    struct import_opts o = {.name = "fuzz", .skip_bad = (data[0] >> 3) & 1,
                            .infer_sessions = (data[0] >> 1) & 1,
                            .skip_failed = (data[0] >> 4) & 1,
                            .time_scale = (data[0] >> 5) & 1 ? 0.5 : 1.0};
    const char *in = (const char *)data + 1;
    size_t len = size - 1;
    import_detect(in, len);
    struct import_trace t;
    import_trace_init(&t);
    if (import_parse(f, in, len, &o, &t) == 0) {
        struct import_build_opts bo = {.dialect = (enum dialect_id)((data[0] >> 6) + 1),
                                       .tokens_per_word = 1.3};
        struct buf line;
        buf_init(&line, (size_t)64 << 20);
        /* bounded: a few rows are enough to reach every builder path */
        for (size_t i = 0; i < t.n && i < 8; i++) {
            if (t.rows[i].tokens_in > 20000)
                continue; /* keep each run fast; synthesis size is tested in unit tests */
            buf_reset(&line);
            import_row_to_line(&t.rows[i], &bo, &line);
        }
        buf_free(&line);
    }
    import_trace_free(&t);
    return 0;
}
