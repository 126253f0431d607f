/* clock.h — time sources shared by every tool.
 *
 * Events are timed with CLOCK_MONOTONIC (immune to NTP steps) and recorded as Unix-epoch µs.
 * A clock_map taken once at start converts one to the other, so every timestamp of a run
 * shares one offset and differences between them stay exact. */
#ifndef LLMTRACE_CLOCK_H
#define LLMTRACE_CLOCK_H

#include <stdint.h>

struct clock_map {
    int64_t mono0_ns;  /* CLOCK_MONOTONIC at the sample */
    int64_t epoch0_ns; /* CLOCK_REALTIME at the same instant (± a few hundred ns) */
};

int64_t clock_mono_ns(void);
int64_t clock_mono_us(void);
int64_t clock_epoch_us(void);
/* Samples both clocks, keeping the tightest of a few paired reads. */
void clock_map_init(struct clock_map *m);
int64_t clock_map_epoch_us(const struct clock_map *m, int64_t mono_ns);
int64_t clock_map_mono_ns(const struct clock_map *m, int64_t epoch_us);
/* The host clock's synchronisation as the kernel reports it (adjtimex(2), read only): whether
 * an NTP/PTP daemon keeps it synchronised, and the kernel's estimated and maximum error. Logs
 * record it so runs merged from several machines can say how far their clocks may disagree. */
struct clock_sync {
    int known;               /* adjtimex answered */
    int synced;              /* STA_UNSYNC clear and the state is not TIME_ERROR */
    int64_t est_error_us;
    int64_t max_error_us;
};
void clock_sync_read(struct clock_sync *s);
/* Formats epoch µs as RFC 3339 UTC with microseconds: 2026-11-26T09:45:17.123456Z. */
void clock_format_rfc3339(int64_t epoch_us, char *out, unsigned outlen);

#endif
