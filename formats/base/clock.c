/* clock.c — monotonic/epoch clocks and their mapping (see clock.h). */
#include "clock.h"

#include <string.h>
#include <sys/timex.h>

#include <stdio.h>
#include <time.h>

static int64_t ts_ns(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t clock_mono_ns(void) { return ts_ns(CLOCK_MONOTONIC); }
int64_t clock_mono_us(void) { return ts_ns(CLOCK_MONOTONIC) / 1000; }
int64_t clock_epoch_us(void) { return ts_ns(CLOCK_REALTIME) / 1000; }

void clock_map_init(struct clock_map *m)
{
    int64_t best = INT64_MAX;
    for (int i = 0; i < 5; i++) {
        int64_t a = ts_ns(CLOCK_MONOTONIC);
        int64_t e = ts_ns(CLOCK_REALTIME);
        int64_t b = ts_ns(CLOCK_MONOTONIC);
        if (b - a < best) {
            best = b - a;
            m->mono0_ns = a + (b - a) / 2;
            m->epoch0_ns = e;
        }
    }
}

int64_t clock_map_epoch_us(const struct clock_map *m, int64_t mono_ns)
{
    return (m->epoch0_ns + (mono_ns - m->mono0_ns)) / 1000;
}

int64_t clock_map_mono_ns(const struct clock_map *m, int64_t epoch_us)
{
    return m->mono0_ns + (epoch_us * 1000 - m->epoch0_ns);
}

void clock_format_rfc3339(int64_t epoch_us, char *out, unsigned outlen)
{
    time_t s = (time_t)(epoch_us / 1000000);
    long us = (long)(epoch_us % 1000000);
    if (us < 0) {
        us += 1000000;
        s -= 1;
    }
    struct tm tm;
    gmtime_r(&s, &tm);
    snprintf(out, outlen, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, us);
}

void clock_sync_read(struct clock_sync *s)
{
    memset(s, 0, sizeof *s);
    struct timex tx;
    memset(&tx, 0, sizeof tx); /* modes 0: read, change nothing */
    int state = adjtimex(&tx);
    if (state < 0)
        return;
    s->known = 1;
    s->synced = state != TIME_ERROR && !(tx.status & STA_UNSYNC);
    s->est_error_us = tx.esterror;
    s->max_error_us = tx.maxerror;
}
