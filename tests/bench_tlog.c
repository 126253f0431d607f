/* bench_tlog.c — throughput of the trace log (formats/tlog/): serializer and writer in
 * records/s, reader in MB/s of uncompressed log, with and without skip_bodies. Synthetic
 * exchanges shaped like a chat replay: ~1 KB prompt body, ~50 events, ~250 bytes of text.
 * Rates are per second of thread CPU time (the writer's includes the write(2) syscalls).
 * usage: bench_tlog [N_EXCHANGES] [DIR]   (results go to bench/results/tlog.md by hand) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <time.h>

#include "clock.h"
#include "tlog.h"

/* CPU time of this thread: the machine is shared, so wall time is noisy and CPU time is what
 * the numbers below are computed from. */
static int64_t bench_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void bench_make(struct tlog_exchange *x, int i)
{
    char tmp[64];
    tlog_exchange_init(x);
    snprintf(tmp, sizeof tmp, "w%d-%d", i % 8, i);
    x->id = strdup(tmp);
    x->start_us = 1764150000000000LL + (int64_t)i * 1000;
    x->conn = strdup("w0c12");
    x->dialect = strdup("openai-chat");
    x->model = strdup("llama-3-8b-instruct");
    x->stream = 1;
    x->req.method = strdup("POST");
    x->req.path = strdup("/v1/chat/completions");
    x->req.host = strdup("127.0.0.1:8000");
    tlog_exchange_add_header(x, 0, "Content-Type", 12, "application/json", 16);
    tlog_exchange_add_header(x, 0, "Authorization", 13, "Bearer sk-abc", 13);
    char prompt[1100];
    for (size_t k = 0; k < sizeof prompt - 1; k++)
        prompt[k] = "abcdefgh ijklmnop qrstuv wxyz. "[(k * 7 + (size_t)i) % 31];
    prompt[sizeof prompt - 1] = '\0';
    cJSON *body = cJSON_CreateObject();
    cJSON_AddStringToObject(body, "model", "llama-3-8b-instruct");
    cJSON_AddTrueToObject(body, "stream");
    cJSON_AddNumberToObject(body, "max_tokens", 48);
    cJSON *msgs = cJSON_AddArrayToObject(body, "messages");
    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "role", "user");
    cJSON_AddStringToObject(m, "content", prompt);
    cJSON_AddItemToArray(msgs, m);
    x->req.body = body;
    x->req.body_bytes = 1180;
    x->resp.status = 200;
    tlog_exchange_add_header(x, 1, "Content-Type", 12, "text/event-stream", 17);
    x->resp.ttfb_us = 20000 + i % 1000;
    tlog_exchange_add_event(x, 20100, 0, 0);
    for (int e = 0; e < 48; e++) {
        tlog_exchange_add_event(x, 30000 + e * 15000 + (i * 37 + e * 11) % 900, 1, 1);
        tlog_exchange_append_text(x, " word", 5);
    }
    tlog_exchange_add_event(x, 30000 + 48 * 15000, 0, 0);
    x->resp.end_us = 30000 + 48 * 15000 + 50;
    x->resp.finish_reason = strdup("length");
    x->resp.body_bytes = 9000;
    x->usage.present = 1;
    x->usage.prompt_tokens = 250;
    x->usage.completion_tokens = 48;
    tlog_exchange_derive_tokens(x);
    x->replay.present = 1;
    x->replay.of = strdup("cap-1");
    x->replay.sched_us = x->start_us - 20;
    x->replay.has_stage = 1;
    x->replay.stage = 8;
    x->replay.mode = strdup("concurrency");
    x->replay.target = strdup("http://127.0.0.1:8000");
}

static double bench_read(const char *path, int skip, uint64_t *bytes_out, int64_t *n_out)
{
    char err[256];
    struct tlog_reader_opts ro = {0};
    ro.skip_bodies = skip;
    int64_t t0 = bench_cpu_ns();
    struct tlog_reader *r = tlog_reader_open(path, &ro, err, sizeof err);
    if (!r) {
        fprintf(stderr, "%s\n", err);
        exit(1);
    }
    struct tlog_record rec;
    tlog_record_init(&rec);
    int64_t n = 0, events = 0;
    int rc;
    while ((rc = tlog_read(r, &rec)) != 0) {
        if (rc < 0) {
            fprintf(stderr, "%s\n", tlog_reader_error(r));
            exit(1);
        }
        if (rec.type == TLOG_REC_EXCHANGE) {
            n++;
            events += (int64_t)rec.x.resp.n_events;
        }
    }
    double s = (double)(bench_cpu_ns() - t0) / 1e9;
    tlog_record_free(&rec);
    tlog_reader_close(r);
    *n_out = n;
    (void)bytes_out;
    (void)events;
    return s;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 100000;
    const char *dir = argc > 2 ? argv[2] : "/tmp";
    char gz[512], plain[512];
    snprintf(gz, sizeof gz, "%s/bench_tlog.jsonl.gz", dir);
    snprintf(plain, sizeof plain, "%s/bench_tlog.jsonl", dir);

    /* a few distinct records, reused, so building them is not measured */
    enum { DISTINCT = 64 };
    static struct tlog_exchange xs[DISTINCT];
    for (int i = 0; i < DISTINCT; i++)
        bench_make(&xs[i], i);

    struct buf b;
    buf_init(&b, 1 << 24);
    uint64_t text_bytes = 0;
    int64_t t0 = bench_cpu_ns();
    for (int i = 0; i < n; i++) {
        buf_reset(&b);
        tlog_exchange_to_line(&xs[i % DISTINCT], NULL, &b);
        text_bytes += b.len + 1;
    }
    double s_line = (double)(bench_cpu_ns() - t0) / 1e9;

    char err[256];
    struct tlog_header h = {0};
    h.tool = "bench_tlog";
    h.version = "0";
    t0 = bench_cpu_ns();
    struct tlog_writer *w = tlog_writer_open(gz, NULL, err, sizeof err);
    if (!w) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    tlog_writer_header(w, &h);
    for (int i = 0; i < n; i++)
        tlog_writer_exchange(w, &xs[i % DISTINCT]);
    uint64_t gz_bytes = tlog_writer_bytes(w);
    tlog_writer_close(w, NULL);
    double s_write = (double)(bench_cpu_ns() - t0) / 1e9;

    /* the same records uncompressed, to separate inflate from parsing */
    FILE *f = fopen(plain, "w");
    for (int i = 0; i < n; i++) {
        buf_reset(&b);
        tlog_exchange_to_line(&xs[i % DISTINCT], NULL, &b);
        fwrite(b.p, 1, b.len, f);
        fputc('\n', f);
    }
    fclose(f);
    buf_free(&b);

    int64_t nr;
    uint64_t dummy;
    double s_read = bench_read(gz, 0, &dummy, &nr);
    double s_skip = bench_read(gz, 1, &dummy, &nr);
    double s_pread = bench_read(plain, 0, &dummy, &nr);
    double s_pskip = bench_read(plain, 1, &dummy, &nr);

    double mb = (double)text_bytes / 1e6;
    printf("exchanges                 %d (%.0f bytes/line avg, 50 events each)\n", n,
           (double)text_bytes / n);
    printf("uncompressed / gzip       %.1f MB / %.1f MB (ratio %.1f)\n", mb,
           (double)gz_bytes / 1e6, (double)text_bytes / (double)gz_bytes);
    printf("to_line                   %.0f records/s  %.0f MB/s\n", n / s_line, mb / s_line);
    printf("writer (to_line+gzip+write) %.0f records/s  %.0f MB/s\n", n / s_write, mb / s_write);
    printf("reader gzip               %.1f MB/s  %.0f records/s\n", mb / s_read, nr / s_read);
    printf("reader gzip skip_bodies   %.1f MB/s  %.0f records/s\n", mb / s_skip, nr / s_skip);
    printf("reader plain              %.1f MB/s\n", mb / s_pread);
    printf("reader plain skip_bodies  %.1f MB/s\n", mb / s_pskip);
    for (int i = 0; i < DISTINCT; i++)
        tlog_exchange_free(&xs[i]);
    if (!getenv("BENCH_KEEP")) remove(gz);
    remove(plain);
    return 0;
}
