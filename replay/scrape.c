/* scrape.c — the --scrape thread (scrape.h): every interval a GET of the exposition through
 * its own client engine (formats/net) on its own epoll loop, parsed by formats/wire/prom, each
 * sample written as one "metrics" record. Histogram buckets and summary quantiles are left out
 * unless --scrape-all (they are many, and the report uses gauges and counters). */
#include "scrape.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "prom.h"
#include "redact.h"

#define SCRAPE_MAX_BODY ((size_t)16 << 20)

struct scrape_req {
    struct hc_req hr;
    struct buf body;
    int status;
    int done;
    int64_t head_ns;
    struct hc_result res;
};

static void sr_start(void *u, const struct hc_start *s)
{
    (void)u;
    (void)s;
}

static void sr_resend(void *u, const struct hc_attempt *a)
{
    (void)u;
    (void)a;
}

static void sr_head(void *u, int status, const struct hc_header *h, size_t n, int64_t rx)
{
    (void)h;
    (void)n;
    struct scrape_req *r = u;
    r->status = status;
    r->head_ns = rx;
}

static void sr_body(void *u, const char *d, size_t n, int64_t rx)
{
    (void)rx;
    struct scrape_req *r = u;
    buf_append(&r->body, d, n); /* past the cap the body is cut: parsed as far as it goes */
}

static void sr_done(void *u, const struct hc_result *res)
{
    struct scrape_req *r = u;
    r->res = *res;
    r->done = 1;
}

static const struct hc_callbacks sr_cb = {sr_start, sr_resend, sr_head, sr_body, sr_done};

struct scrape_writer {
    struct client_out *out;
    struct buf line;
    int64_t t_us;
    int all;
    int64_t written;
    struct scrape_stats *st;
};

static int sw_keep(const struct scrape_writer *w, const struct prom_sample *s)
{
    if (w->all)
        return 1;
    if (s->name_len > 7 && !memcmp(s->name + s->name_len - 7, "_bucket", 7))
        return 0;
    for (size_t i = 0; i < s->n_labels; i++)
        if (s->labels[i].name_len == 8 && !memcmp(s->labels[i].name, "quantile", 8))
            return 0;
    return 1;
}

static int sw_sample(void *u, const struct prom_sample *s)
{
    struct scrape_writer *w = u;
    if (!sw_keep(w, s)) {
        w->st->skipped++;
        return 0;
    }
    struct buf *b = &w->line;
    buf_reset(b);
    int rc = buf_printf(b, "{\"type\":\"metrics\",\"t_us\":%lld,\"name\":\"", (long long)w->t_us);
    if (!rc) rc = buf_append_json_str(b, s->name, s->name_len);
    if (!rc) rc = buf_append_str(b, "\",\"labels\":{");
    for (size_t i = 0; i < s->n_labels && !rc; i++) {
        rc = buf_append_str(b, i ? ",\"" : "\"");
        if (!rc) rc = buf_append_json_str(b, s->labels[i].name, s->labels[i].name_len);
        if (!rc) rc = buf_append_str(b, "\":\"");
        if (!rc) rc = buf_append_json_str(b, s->labels[i].value, s->labels[i].value_len);
        if (!rc) rc = buf_append_char(b, '"');
    }
    if (!rc) rc = buf_append_str(b, "},\"value\":");
    if (!rc) {
        if (isfinite(s->value))
            rc = buf_printf(b, "%.17g", s->value);
        else /* JSON has no NaN or Inf: null, with the value spelled out */
            rc = buf_printf(b, "null,\"value_str\":\"%s\"",
                            isnan(s->value) ? "NaN" : s->value > 0 ? "+Inf" : "-Inf");
    }
    if (!rc) rc = buf_append_str(b, ",\"kind\":\"");
    if (!rc) rc = buf_append_json_str(b, s->kind, s->kind_len);
    if (!rc) rc = buf_append_str(b, "\"}");
    if (rc)
        return 0; /* a sample over the line cap is dropped (counted as skipped) */
    if (tlog_writer_line(w->out->w, b->p, b->len, 0, 0) == 0)
        w->written++;
    return 0;
}

int64_t scrape_write_samples(struct client_out *out, const char *body, size_t len, int64_t t_us,
                             int all, struct scrape_stats *st)
{
    struct scrape_writer w = {.out = out, .t_us = t_us, .all = all, .st = st};
    buf_init(&w.line, 1u << 20);
    struct prom_stats ps;
    prom_parse(body, len, sw_sample, &w, &ps);
    buf_free(&w.line);
    st->samples += (uint64_t)w.written;
    st->bad_lines += (uint64_t)ps.bad_lines;
    return w.written;
}

/* A failed scrape: one record saying why, so the report can tell "no metrics" from "idle". */
static void scrape_write_failure(struct scrape *s, int64_t t_us, const char *why)
{
    struct buf b;
    buf_init(&b, 4096);
    char *url = redact_url(s->cfg.url);
    if (!buf_printf(&b, "{\"type\":\"metrics\",\"t_us\":%lld,\"url\":\"", (long long)t_us) &&
        !buf_append_json_str(&b, url ? url : "", url ? strlen(url) : 0) &&
        !buf_append_str(&b, "\",\"error\":{\"kind\":\"scrape\",\"message\":\"") &&
        !buf_append_json_str(&b, why, strlen(why)) && !buf_append_str(&b, "\"}}"))
        tlog_writer_line(s->cfg.out->w, b.p, b.len, 0, 0);
    free(url);
    buf_free(&b);
    s->st.failures++;
    if (!s->st.first_error[0])
        snprintf(s->st.first_error, sizeof s->st.first_error, "%s", why);
}

/* The path (and query) of a URL: what goes on the request line. */
static const char *scrape_target(const char *url)
{
    const char *p = strstr(url, "://");
    p = p ? p + 3 : url;
    p += strcspn(p, "/?");
    return *p ? p : "/";
}

static void scrape_once(struct scrape *s, struct hc_engine *e, int ep)
{
    struct scrape_req r = {0};
    buf_init(&r.body, SCRAPE_MAX_BODY);
    const char *target = scrape_target(s->cfg.url);
    char tbuf[2048];
    snprintf(tbuf, sizeof tbuf, "%s%s", target[0] == '/' ? "" : "/", target);
    r.hr.method = "GET";
    r.hr.target = tbuf;
    r.hr.headers = "Accept: text/plain;version=0.0.4\r\n";
    r.hr.headers_len = strlen(r.hr.headers);
    r.hr.cb = &sr_cb;
    r.hr.user = &r;
    int64_t t0 = clock_mono_ns();
    int64_t limit = t0 + (s->cfg.interval_us > 2000000 ? s->cfg.interval_us : 2000000) * 1000;
    if (hc_submit(e, &r.hr)) {
        buf_free(&r.body);
        return;
    }
    for (int i = 0; i < 100000 && !r.done; i++) {
        int64_t now = clock_mono_ns();
        if (now >= limit) {
            hc_cancel(e, &r.hr);
            r.res.err = HC_E_CONNECT_TIMEOUT;
            snprintf(r.res.msg, sizeof r.res.msg, "no answer within %lld ms",
                     (long long)((limit - t0) / 1000000));
            break;
        }
        struct epoll_event ev[8];
        int64_t hd = hc_engine_next_deadline(e);
        int64_t wake = hd >= 0 && hd < limit ? hd : limit;
        int ms = (int)((wake - now) / 1000000) + 1;
        int k = epoll_wait(ep, ev, 8, ms > 100 ? 100 : ms);
        for (int j = 0; j < k; j++)
            hc_engine_handle(e, ev[j].data.ptr, ev[j].events);
        hc_engine_tick(e, clock_mono_ns());
        hc_engine_reap(e);
    }
    int64_t t_us = clock_map_epoch_us(s->cfg.cmap, r.head_ns > 0 ? r.head_ns : t0);
    s->st.scrapes++;
    if (!r.done || r.res.err != HC_OK) {
        char why[240];
        snprintf(why, sizeof why, "%s", r.res.msg[0] ? r.res.msg : hc_strerror(r.res.err));
        scrape_write_failure(s, t_us, why);
    } else if (r.status != 200) {
        char why[64];
        snprintf(why, sizeof why, "HTTP status %d", r.status);
        scrape_write_failure(s, t_us, why);
    } else if (scrape_write_samples(s->cfg.out, r.body.p ? r.body.p : "", r.body.len, t_us,
                                    s->cfg.all, &s->st) == 0) {
        scrape_write_failure(s, t_us, "no samples in the response");
    }
    buf_free(&r.body);
}

static void *scrape_main(void *arg)
{
    struct scrape *s = arg;
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct hc_opts o = {.url = s->cfg.url, .insecure = s->cfg.insecure, .cacert = s->cfg.cacert,
                        .connect_timeout_ns = 2000000000LL};
    char err[256];
    struct hc_engine *e = ep >= 0 ? hc_engine_new(ep, &o, err, sizeof err) : NULL;
    if (!e) {
        scrape_write_failure(s, clock_epoch_us(), ep >= 0 ? err : strerror(errno));
        if (ep >= 0)
            close(ep);
        return NULL;
    }
    int64_t next = clock_mono_ns();
    for (;;) {
        int last = atomic_load(&s->stop);
        scrape_once(s, e, ep);
        if (last)
            break;
        next += s->cfg.interval_us * 1000;
        /* sleep until the next tick, waking at once when asked to stop */
        while (!atomic_load(&s->stop) && clock_mono_ns() < next) {
            int64_t left = next - clock_mono_ns();
            struct timespec ts = {0, left > 20000000 ? 20000000 : left > 0 ? (long)left : 0};
            nanosleep(&ts, NULL);
        }
        if (clock_mono_ns() > next + s->cfg.interval_us * 1000)
            next = clock_mono_ns(); /* a slow scrape does not make the next ones pile up */
    }
    hc_engine_free(e);
    close(ep);
    return NULL;
}

int scrape_start(struct scrape *s, const struct scrape_cfg *cfg)
{
    memset(s, 0, sizeof *s);
    s->cfg = *cfg;
    if (s->cfg.interval_us <= 0)
        s->cfg.interval_us = 1000000;
    if (pthread_create(&s->th, NULL, scrape_main, s)) {
        snprintf(s->err, sizeof s->err, "cannot start the scrape thread: %s", strerror(errno));
        return -1;
    }
    s->started = 1;
    return 0;
}

void scrape_stop(struct scrape *s)
{
    if (!s->started)
        return;
    atomic_store(&s->stop, 1);
    pthread_join(s->th, NULL);
    s->started = 0;
}
