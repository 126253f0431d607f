/* fuzz_prom.c — libFuzzer harness for the Prometheus text parser (formats/wire/prom.h): any
 * bytes; every reported sample must lie inside the input (names) or the label buffer
 * (values), and the counts must add up. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "prom.h"

struct fz {
    const char *lo, *hi;
    int64_t n;
};

static int fz_cb(void *u, const struct prom_sample *s)
{
    struct fz *f = u;
    if (s->name < f->lo || s->name + s->name_len > f->hi || s->name_len == 0 ||
        s->n_labels > PROM_MAX_LABELS)
        abort();
    size_t total = 0;
    for (size_t i = 0; i < s->n_labels; i++) {
        if (s->labels[i].name < f->lo || s->labels[i].name + s->labels[i].name_len > f->hi)
            abort();
        total += s->labels[i].value_len;
        volatile char c = s->labels[i].value_len ? s->labels[i].value[s->labels[i].value_len - 1] : 0;
        (void)c;
    }
    if (total > PROM_MAX_LABEL_BYTES)
        abort();
    f->n++;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz f = {(const char *)data, (const char *)data + size, 0};
    struct prom_stats st;
    if (prom_parse((const char *)data, size, fz_cb, &f, &st) || f.n != st.samples ||
        st.samples + st.bad_lines > st.lines)
        abort();
    return 0;
}
