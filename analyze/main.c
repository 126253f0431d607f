/* main.c — llmtrace-analyze: command line, reading the logs, choosing the outputs.
 * Everything it computes lives in metrics.c/stats.c; renderers in report.c, plot.c, html.c,
 * compare.c. Exit codes (README.md): 0 ok, 1 runtime failure (an input
 * unusable, gnuplot failure), 2 usage error. */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "capacity.h"
#include "clock.h"
#include "compare.h"
#include "html.h"
#include "metrics.h"
#include "plot.h"
#include "report.h"
#include "server.h"
#include "tlog.h"
#include "units.h"

#define PROG "llmtrace-analyze"

static void usage(FILE *f)
{
    fputs(
        "usage: " PROG " [options] [LABEL=]LOG.jsonl.gz ...\n"
        "       " PROG " compare [options] base=A.jsonl.gz new=B.jsonl.gz\n"
        "\n"
        "Computes TTFT, TTFB, TPOT, ITL, E2E, schedule lag, token throughput and goodput per\n"
        "group of exchanges of one or more trace logs (metric definitions: analyze/README.md).\n"
        "Inputs with one LABEL are one group; LABEL=DIR/ takes every log in DIR, a quoted glob\n"
        "('cap=rot/trace.*') the files it matches. compare goes stage by stage when the logs\n"
        "have several stages (--by label pools them).\n"
        "\n"
        "grouping and selection:\n"
        "  --by label|stage|window=60s|path|model|status|turn   (default: label; turn: a\n"
        "                          session's turn index, 0 = first)\n"
        "  --include-warmup        keep replay warm-up requests (excluded by default)\n"
        "  --latency-from send|schedule   default: schedule for open-loop replays, else send\n"
        "  --include-connect       add a new connection's connect (+ TLS) time (connect_us)\n"
        "                          to TTFT, TTFB and E2E measured from the send\n"
        "  --slo ttft=500,tpot=50,e2e=10s   goodput counts requests meeting every SLO; a bare\n"
        "                          number is ms, or give a unit: 800us, 500ms, 0.5s;\n"
        "                          with --by stage, the capacity answer comes first\n"
        "  --slo-quantile Q        quantile the capacity answer judges stages at (0.9)\n"
        "  --steady                leave out each stage's ramp-up (until in-flight reaches\n"
        "                          the stage's concurrency) and drain (ends after its last send)\n"
        "  --whole-run             exit 1 when a label's shards (replay --shard) or rotated\n"
        "                          capture files are not one whole run: one missing or given\n"
        "                          twice, or shards of another trace, N or --start-at (the\n"
        "                          numbers are still printed); for a merge step\n"
        "  --compat vllm|genai-perf|guidellm|llmperf   also report other tools' definitions\n"
        "output (default: aligned table on stdout):\n"
        "  --json | --csv | --markdown | --per-request (CSV, one row per exchange)\n"
        "  -o FILE                 write the table/JSON/CSV/Markdown to FILE\n"
        "  --plot DIR              PNG + SVG charts through gnuplot\n"
        "  --plot-latency e2e|tpot|ttft   x axis of the throughput-latency chart (e2e)\n"
        "  --html FILE             self-contained HTML report (inline SVG)\n"
        "compare:\n"
        "  --seed N (1) --bootstrap N (1000 resamples) --alpha A (0.05)\n"
        "  -q, --quiet  -h, --help  -V, --version\n"
        "\n"
        "examples:\n"
        "  " PROG " run.jsonl.gz\n"
        "  " PROG " --by stage --plot charts/ --html report.html sweep.jsonl.gz\n"
        "  " PROG " --by stage --slo e2e=2s --steady sweep.jsonl.gz   (capacity at p90)\n"
        "  " PROG " --slo ttft=500,tpot=50 --json a=v1.jsonl.gz b=v2.jsonl.gz\n"
        "  " PROG " compare --seed 7 base=v1.jsonl.gz new=v2.jsonl.gz\n"
        "  " PROG " --by window=60s cap=rotated/      (rates per window length)\n"
        "  " PROG " --by turn --plot charts/ live=s1.jsonl.gz recorded=s2.jsonl.gz\n"
        "\nexit status: 0 ok, 1 an input unusable or a runtime failure, 2 usage error\n",
        f);
}

static int parse_by(const char *s, enum an_by *by, int64_t *win)
{
    if (!strcmp(s, "label"))
        *by = AN_BY_LABEL;
    else if (!strcmp(s, "stage"))
        *by = AN_BY_STAGE;
    else if (!strcmp(s, "path"))
        *by = AN_BY_PATH;
    else if (!strcmp(s, "model"))
        *by = AN_BY_MODEL;
    else if (!strcmp(s, "status"))
        *by = AN_BY_STATUS;
    else if (!strcmp(s, "turn"))
        *by = AN_BY_TURN;
    else if (!strncmp(s, "window=", 7)) {
        if (units_parse_duration_us(s + 7, win) || *win <= 0)
            return -1;
        *by = AN_BY_WINDOW;
    } else if (!strcmp(s, "window")) {
        *win = 60000000;
        *by = AN_BY_WINDOW;
    } else
        return -1;
    return 0;
}

/* Shell-like joining of argv for reports (quotes words with spaces or quotes). */
static char *join_argv(int argc, char **argv)
{
    struct buf b;
    buf_init(&b, 1 << 20);
    for (int i = 0; i < argc; i++) {
        if (i)
            buf_append_char(&b, ' ');
        if (argv[i][0] && !strpbrk(argv[i], " \t'\"\\$")) {
            buf_append_str(&b, argv[i]);
            continue;
        }
        buf_append_char(&b, '\'');
        for (const char *p = argv[i]; *p; p++) {
            if (*p == '\'')
                buf_append_str(&b, "'\\''");
            else
                buf_append_char(&b, *p);
        }
        buf_append_char(&b, '\'');
    }
    return buf_steal(&b);
}

static char *json_argv(const cJSON *cmd)
{
    if (!cmd || !cJSON_IsArray(cmd))
        return NULL;
    int n = cJSON_GetArraySize(cmd);
    char **v = calloc((size_t)n + 1, sizeof *v);
    if (!v)
        return NULL;
    int k = 0;
    for (int i = 0; i < n; i++) {
        const cJSON *it = cJSON_GetArrayItem(cmd, i);
        if (cJSON_IsString(it))
            v[k++] = it->valuestring;
    }
    char *s = join_argv(k, v);
    free(v);
    return s;
}

/* "a=run.jsonl.gz" → label a; "dir/run-1.jsonl.gz" → label run-1. */
static void split_input(const char *arg, char **label, char **path)
{
    const char *eq = strchr(arg, '=');
    const char *slash = strchr(arg, '/');
    if (eq && eq != arg && (!slash || eq < slash)) {
        *label = strndup(arg, (size_t)(eq - arg));
        *path = strdup(eq + 1);
        return;
    }
    *path = strdup(arg);
    const char *base = strrchr(arg, '/');
    base = base ? base + 1 : arg;
    size_t n = strlen(base);
    const char *sfx[] = {".jsonl.gz", ".jsonl", ".gz"};
    for (size_t i = 0; i < 3; i++) {
        size_t k = strlen(sfx[i]);
        if (n > k && !strcmp(base + n - k, sfx[i])) {
            n -= k;
            break;
        }
    }
    *label = strndup(base, n ? n : strlen(base));
}

struct opts {
    int compare;
    int by_given;            /* --by was given (compare picks stage by stage otherwise) */
    enum an_by by;
    int64_t window_us;
    enum an_latency_from from;
    int include_warmup;
    int include_connect;
    const char *slo;
    double slo_quantile;     /* --slo-quantile: the capacity answer's quantile (0.9) */
    int steady;              /* --steady: each stage's ramp-up and drain left out */
    int whole_run;           /* --whole-run: a label's shards or rotations not whole → exit 1 */
    const char *compat;
    enum { OUT_TABLE, OUT_JSON, OUT_CSV, OUT_MD, OUT_PER_REQ } out;
    const char *out_path;
    const char *plot_dir;
    enum plot_latency plot_latency;
    const char *html;
    int quiet;
    int rounds;
    uint64_t seed;
    double alpha;
};

/* One line per problem: "llmtrace-analyze: FILE: record N: what" (the reader's message
 * usually names the record already). */
static void report_read_error(const char *path, long long nrec, const char *msg)
{
    if (!strncmp(msg, "record ", 7) || !strncmp(msg, "line ", 5))
        fprintf(stderr, PROG ": %s: %s\n", path, msg);
    else
        fprintf(stderr, PROG ": %s: record %lld: %s\n", path, nrec, msg);
}

/* Progress on stderr when it is a terminal (and not --quiet): the file and the records read
 * so far, rewritten in place at most every 250 ms from the first record on, erased when the
 * file is done. */
struct progress {
    int on;
    int64_t next_us;
};

static void progress_show(struct progress *p, const char *path, long long n, int force)
{
    if (!p->on)
        return;
    int64_t now = clock_mono_us();
    if (!force && now < p->next_us)
        return;
    p->next_us = now + 250000;
    fprintf(stderr, "\r\033[K" PROG ": %s: %lld records", path, n);
    fflush(stderr);
}

static void progress_done(struct progress *p)
{
    if (p->on) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
    }
}

/* A replay shard's identity from its header, and the host clock it was written with. */
static void header_shard(struct an_input *in, const struct tlog_header *h)
{
    const cJSON *sh = cJSON_GetObjectItemCaseSensitive(h->options, "shard");
    const cJSON *at = cJSON_GetObjectItemCaseSensitive(h->options, "start_at");
    const cJSON *src = cJSON_GetObjectItemCaseSensitive(h->source, "input");
    int k, n;
    char tail;
    if (h->tool && !strcmp(h->tool, "llmtrace-replay") && cJSON_IsString(sh) &&
        sscanf(sh->valuestring, "%d/%d%c", &k, &n, &tail) == 2 && k >= 1 && k <= n) {
        in->shard_k = k;
        in->shard_n = n;
    }
    in->start_at = cJSON_IsNumber(at) ? at->valuedouble : 0;
    free(in->trace);
    in->trace = cJSON_IsString(src) ? strdup(src->valuestring) : NULL;
    const cJSON *sz = cJSON_GetObjectItemCaseSensitive(h->source, "input_bytes");
    in->trace_bytes = cJSON_IsNumber(sz) ? sz->valuedouble : -1;
    const cJSON *ck = h->clock;
    const cJSON *syn = cJSON_GetObjectItemCaseSensitive(ck, "synced");
    const cJSON *me = cJSON_GetObjectItemCaseSensitive(ck, "max_error_us");
    in->clock_known = cJSON_IsBool(syn) && cJSON_IsNumber(me);
    in->clock_synced = cJSON_IsTrue(syn);
    in->clock_max_error_us = cJSON_IsNumber(me) ? (int64_t)me->valuedouble : -1;
}

/* Reads one input into c. Returns 0 when usable (some records or a clean empty log), -1 when
 * the whole input is unusable; every problem is reported on stderr with file and record. */
static int read_input(struct an_ctx *c, int label_idx, struct an_input *in, const struct opts *o,
                      FILE *per_req, int silent, struct srv_set *srv,
                      struct cap_records *stages)
{
    char err[512];
    struct tlog_reader_opts ro = {.skip_bodies = 1, .aux_records = srv != NULL};
    struct tlog_reader *rd = tlog_reader_open(in->path, &ro, err, sizeof err);
    if (!rd) {
        size_t pl = strlen(in->path);
        /* the reader may already start its message with the path */
        if (!silent)
            fprintf(stderr, PROG ": %s: %s\n", in->path,
                !strncmp(err, in->path, pl) && err[pl] == ':' ? err + pl + 1 + (err[pl + 1] == ' ')
                                                               : err);
        return -1;
    }
    struct tlog_record rec;
    tlog_record_init(&rec);
    int fatal = 0, rc;
    long long nrec = 0, reported = 0;
    struct progress pg = {.on = !silent && !o->quiet && isatty(STDERR_FILENO)};
    progress_show(&pg, in->path, 0, 1);
    while ((rc = tlog_read(rd, &rec)) != 0) {
        nrec++;
        if ((nrec & 1023) == 0)
            progress_show(&pg, in->path, nrec, 0);
        if (rc < 0) {
            progress_done(&pg); /* a message never lands on the progress line */
            if (rc != TLOG_ERR_FORMAT) {
                if (!silent)
                    report_read_error(in->path, nrec, tlog_reader_error(rd));
                fatal = 1;
                break;
            }
            /* Bad lines are skipped; report the first few so a broken log is not silent. */
            if (!silent && reported++ < 10)
                report_read_error(in->path, nrec, tlog_reader_error(rd));
            in->bad_lines++;
            continue;
        }
        nrec = rec.line_no > 0 ? rec.line_no : nrec;
        if (rec.type == TLOG_REC_TRAILER) {
            in->saw_trailer = 1;
        } else if (rec.type == TLOG_REC_HEADER) {
            const cJSON *ri = cJSON_GetObjectItemCaseSensitive(rec.header.options,
                                                                "rotation_index");
            in->rotation = rec.header.tool && !strcmp(rec.header.tool, "llmtrace-capture") &&
                                   cJSON_IsNumber(ri) && ri->valuedouble >= 0 &&
                                   ri->valuedouble < 1e9
                               ? (int)ri->valuedouble
                               : -1;
            header_shard(in, &rec.header);
            free(in->tool);
            free(in->command);
            free(in->started);
            in->tool = rec.header.tool ? strdup(rec.header.tool) : NULL;
            in->command = json_argv(rec.header.command);
            if (rec.header.start_us > 0) {
                char t[64];
                clock_format_rfc3339(rec.header.start_us, t, sizeof t);
                in->started = strdup(t);
            }
        } else if (rec.type == TLOG_REC_STAGE) {
            if (cap_add_record(stages, label_idx, &rec.stage)) {
                if (!silent)
                    fprintf(stderr, PROG ": %s: out of memory\n", in->path);
                fatal = 1;
                break;
            }
        } else if (rec.type == TLOG_REC_METRICS) {
            if (srv_add(srv, (size_t)label_idx, &rec.metrics)) {
                if (!silent)
                    fprintf(stderr, PROG ": %s: out of memory\n", in->path);
                fatal = 1;
                break;
            }
        } else if (rec.type == TLOG_REC_EXCHANGE) {
            size_t g;
            int r = an_add(c, label_idx, &rec.x, &g);
            if (r < 0) {
                if (!silent)
                    fprintf(stderr, PROG ": %s: out of memory\n", in->path);
                fatal = 1;
                break;
            }
            in->records++;
            if (rec.x.replay.present && rec.x.replay.sched_us > 0 &&
                (in->first_sched_us < 0 || rec.x.replay.sched_us < in->first_sched_us))
                in->first_sched_us = rec.x.replay.sched_us;
            if (in->first_start_us < 0 || rec.x.start_us < in->first_start_us)
                in->first_start_us = rec.x.start_us;
            if (per_req && r > 0) {
                struct an_req q;
                an_req_compute(c, &rec.x, &q);
                report_per_request_row(per_req, in->label,
                                       c->by == AN_BY_LABEL ? "" : c->groups[g].key, &rec.x, &q);
            }
        }
    }
    tlog_record_free(&rec);
    progress_done(&pg);
    char desc[512];
    tlog_reader_describe(rd, desc, sizeof desc);
    in->describe = strdup(desc);
    struct tlog_reader_status st;
    tlog_reader_get_status(rd, &st);
    tlog_reader_close(rd);
    if (desc[0] && !o->quiet && !silent && in->records > 0)
        fprintf(stderr, PROG ": %s: %s\n", in->path, desc);
    /* One rule for empty, torn and broken logs: no exchange record, nothing to analyze. */
    if (in->records == 0) {
        if (!silent) {
            char why[600];
            if (fatal)
                snprintf(why, sizeof why, "reading stopped at the error above");
            else if (in->bad_lines)
                snprintf(why, sizeof why, "%lld bad lines, none readable", in->bad_lines);
            else if (st.truncated)
                snprintf(why, sizeof why, "%s", desc);
            else if (!st.saw_header)
                snprintf(why, sizeof why, "the file is empty");
            else
                snprintf(why, sizeof why, "%s", st.saw_trailer
                             ? "the log holds only a header and a trailer"
                             : "the log holds only a header, not closed cleanly");
            fprintf(stderr, PROG ": %s: no exchange record (%s)\n", in->path, why);
        }
        return -1;
    }
    return 0;
}

/* The inputs named on the command line, one entry per file. */
struct in_list {
    struct an_input *v;
    size_t n, cap;
};

static int in_add(struct in_list *l, const char *label, const char *path)
{
    if (l->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 8;
        struct an_input *nv = realloc(l->v, nc * sizeof *nv);
        if (!nv)
            return -1;
        l->v = nv;
        l->cap = nc;
    }
    struct an_input *in = &l->v[l->n];
    memset(in, 0, sizeof *in);
    in->label = strdup(label);
    in->path = strdup(path);
    in->rotation = -1;
    in->first_sched_us = in->first_start_us = -1;
    if (!in->label || !in->path) {
        free(in->label);
        free(in->path);
        return -1;
    }
    l->n++;
    return 0;
}

static void in_free(struct in_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->v[i].label);
        free(l->v[i].path);
    }
    free(l->v);
    memset(l, 0, sizeof *l);
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int is_log_name(const char *n)
{
    size_t k = strlen(n);
    return n[0] != '.' && ((k > 9 && !strcmp(n + k - 9, ".jsonl.gz")) ||
                           (k > 6 && !strcmp(n + k - 6, ".jsonl")));
}

/* One command-line input → files: "LABEL=DIR/" (or a directory) is every .jsonl.gz / .jsonl
 * file in it, a glob the files it matches (sorted), each under the one label. 0, or 1 with
 * the problem reported. */
static int expand_input(struct in_list *l, const char *arg)
{
    char *label = NULL, *path = NULL;
    split_input(arg, &label, &path);
    int rc = 0;
    struct stat st;
    if (!label || !path) {
        rc = -1;
    } else if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        if (!d) {
            fprintf(stderr, PROG ": %s: %s\n", path, strerror(errno));
            free(label);
            free(path);
            return 1;
        }
        /* an unlabelled directory is labelled by its own name */
        const char *eq = strchr(arg, '='), *slash = strchr(arg, '/');
        if (!(eq && eq != arg && (!slash || eq < slash))) {
            size_t n = strlen(path);
            while (n > 1 && path[n - 1] == '/')
                n--;
            const char *b = path + n;
            while (b > path && b[-1] != '/')
                b--;
            free(label);
            label = strndup(b, (size_t)(path + n - b));
        }
        char **names = NULL;
        size_t nn = 0;
        for (struct dirent *e; (e = readdir(d));) {
            if (!is_log_name(e->d_name))
                continue;
            char **nv = realloc(names, (nn + 1) * sizeof *nv);
            if (!nv || !(nv[nn] = strdup(e->d_name))) {
                names = nv ? nv : names;
                rc = -1;
                break;
            }
            names = nv;
            nn++;
        }
        closedir(d);
        qsort(names, nn, sizeof *names, name_cmp);
        for (size_t i = 0; i < nn && rc == 0 && label; i++) {
            char p[8192];
            size_t pl = strlen(path);
            snprintf(p, sizeof p, "%s%s%s", path, pl && path[pl - 1] == '/' ? "" : "/", names[i]);
            rc = in_add(l, label, p);
        }
        for (size_t i = 0; i < nn; i++)
            free(names[i]);
        free(names);
        if (rc == 0 && nn == 0) {
            fprintf(stderr, PROG ": %s: no .jsonl.gz or .jsonl file in the directory\n", path);
            rc = 1;
        }
    } else if (strpbrk(path, "*?[") && stat(path, &st) != 0) {
        glob_t g;
        int gr = glob(path, 0, NULL, &g);
        if (gr == GLOB_NOMATCH) {
            fprintf(stderr, PROG ": %s: no file matches\n", path);
            rc = 1;
        } else if (gr != 0) {
            rc = -1;
        } else {
            for (size_t i = 0; i < g.gl_pathc && rc == 0; i++)
                rc = in_add(l, label, g.gl_pathv[i]);
        }
        if (gr != GLOB_NOMATCH)
            globfree(&g);
    } else {
        rc = in_add(l, label, path);
    }
    if (rc < 0) {
        fprintf(stderr, PROG ": out of memory\n");
        rc = 1;
    }
    free(label);
    free(path);
    return rc;
}

static int find_label(const struct an_ctx *c, const char *label)
{
    for (size_t i = 0; i < c->n_labels; i++)
        if (!strcmp(c->labels[i], label))
            return (int)i;
    return -1;
}

static int int_cmp(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/* Files of one label that are shards of one replay (--shard K/N) are one run: they must agree
 * on the trace, N and --start-at, and cover every K once; each shard's first scheduled send
 * is shown against --start-at by its own clock, with what the clocks say of their error, so a
 * machine whose clock is off shows up. Returns the number of problems found. */
static int check_shards(const struct in_list *l, const char *label, int quiet)
{
    const struct an_input *ref = NULL;
    int problems = 0, n = 0;
    unsigned char seen[1025] = {0};
    for (size_t i = 0; i < l->n; i++) {
        const struct an_input *in = &l->v[i];
        if (strcmp(in->label, label) || in->shard_n == 0)
            continue;
        n++;
        if (!ref) {
            ref = in;
        } else if (in->shard_n != ref->shard_n) {
            problems++;
            if (!quiet)
                fprintf(stderr, PROG ": %s: %s is shard %d/%d, %s is of %d shards: not one run\n",
                        label, in->path, in->shard_k, in->shard_n, ref->path, ref->shard_n);
        } else if (in->start_at != ref->start_at) {
            problems++;
            if (!quiet)
                fprintf(stderr, PROG ": %s: %s started at %.6f, %s at %.6f (--start-at): not "
                                "one schedule\n",
                        label, in->path, in->start_at, ref->path, ref->start_at);
        } else if ((in->trace == NULL) != (ref->trace == NULL) ||
                   (in->trace && strcmp(in->trace, ref->trace))) {
            problems++;
            if (!quiet)
                fprintf(stderr, PROG ": %s: %s replayed %s, %s replayed %s: not one trace\n",
                        label, in->path, in->trace ? in->trace : "?", ref->path,
                        ref->trace ? ref->trace : "?");
        } else if (in->trace_bytes >= 0 && ref->trace_bytes >= 0 &&
                   in->trace_bytes != ref->trace_bytes) {
            problems++;
            if (!quiet)
                fprintf(stderr, PROG ": %s: %s replayed a %.0f-byte %s, %s a %.0f-byte one: not "
                                "one trace\n",
                        label, in->path, in->trace_bytes, in->trace ? in->trace : "?", ref->path,
                        ref->trace_bytes);
        }
        if (in->shard_k <= 1024 && seen[in->shard_k]++) {
            problems++;
            if (!quiet)
                fprintf(stderr, PROG ": %s: shard %d/%d given twice (%s)\n", label, in->shard_k,
                        in->shard_n, in->path);
        }
    }
    if (!ref)
        return 0;
    for (int k = 1; k <= ref->shard_n && k <= 1024; k++)
        if (!seen[k]) {
            problems++;
            if (!quiet)
                fprintf(stderr, PROG ": %s: shard %d/%d missing: the merged run lacks its share "
                                "of the requests\n", label, k, ref->shard_n);
        }
    if (quiet || n < 2)
        return problems;
    for (size_t i = 0; i < l->n; i++) {
        const struct an_input *in = &l->v[i];
        if (strcmp(in->label, label) || in->shard_n == 0 || in->first_start_us < 0)
            continue;
        char clk[96] = "clock synchronisation unknown";
        if (in->clock_known)
            snprintf(clk, sizeof clk, "clock %s, max error %.3f ms",
                     in->clock_synced ? "synchronised" : "NOT synchronised",
                     (double)in->clock_max_error_us / 1e3);
        /* its first request is due at its own offset in the schedule: what is left once
         * that is taken off is the start-up lag a slow or late machine shows */
        if (in->start_at > 0 && in->first_sched_us > 0)
            fprintf(stderr, PROG ": %s: shard %d/%d: first request due %+.3f ms after "
                            "--start-at, sent %+.3f ms late, by its clock (%s)\n",
                    label, in->shard_k, in->shard_n,
                    ((double)in->first_sched_us - in->start_at * 1e6) / 1e3,
                    (double)(in->first_start_us - in->first_sched_us) / 1e3, clk);
        else if (in->start_at > 0)
            fprintf(stderr, PROG ": %s: shard %d/%d: first request sent %+.3f ms after "
                            "--start-at by its clock (%s)\n",
                    label, in->shard_k, in->shard_n,
                    ((double)in->first_start_us - in->start_at * 1e6) / 1e3, clk);
    }
    return problems;
}

/* Files of one label that are rotations of one capture (-C/-G: header options.rotation_index)
 * are one run: says which rotation numbers are missing between the first and the last, or
 * given twice. */
static int check_rotation(const struct in_list *l, const char *label, int quiet)
{
    int idx[1024];
    size_t n = 0;
    int problems = 0;
    for (size_t i = 0; i < l->n && n < 1024; i++)
        if (!strcmp(l->v[i].label, label) && l->v[i].rotation >= 0)
            idx[n++] = l->v[i].rotation;
    if (n < 2)
        return 0;
    qsort(idx, n, sizeof *idx, int_cmp);
    for (size_t i = 1; i < n; i++) {
        if (idx[i] == idx[i - 1]) {
            problems++;
            if (!quiet)
                fprintf(stderr, PROG ": %s: rotated capture file %03d given twice\n", label,
                        idx[i]);
        } else if (idx[i] > idx[i - 1] + 1) {
            problems++;
            if (!quiet)
                fprintf(stderr, PROG ": %s: rotated capture files %03d to %03d missing (files "
                                "%03d to %03d given): the run has a gap\n",
                        label, idx[i - 1] + 1, idx[i] - 1, idx[0], idx[n - 1]);
        }
    }
    /* only the newest file of a capture still running may lack its trailer */
    for (size_t i = 0; i < l->n; i++) {
        const struct an_input *in = &l->v[i];
        if (!strcmp(in->label, label) && in->rotation >= 0 && in->rotation < idx[n - 1] &&
            !in->saw_trailer && in->records > 0) {
            problems++;
            if (!quiet)
                fprintf(stderr, PROG ": %s: %s: rotated file %03d has no trailer although "
                                "later ones exist: the capture was cut short there\n",
                        label, in->path, in->rotation);
        }
    }
    return problems;
}

static int parse_args(int argc, char **argv, struct opts *o, int *first_input)
{
    enum { O_BY = 256, O_WARM, O_FROM, O_SLO, O_COMPAT, O_JSON, O_CSV, O_MD, O_PERREQ, O_PLOT,
           O_PLOTLAT, O_HTML, O_SEED, O_BOOT, O_ALPHA, O_CONNECT, O_SLOQ, O_STEADY, O_WHOLE };
    static const struct option lo[] = {
        {"by", required_argument, 0, O_BY},
        {"include-warmup", no_argument, 0, O_WARM},
        {"latency-from", required_argument, 0, O_FROM},
        {"include-connect", no_argument, 0, O_CONNECT},
        {"slo", required_argument, 0, O_SLO},
        {"slo-quantile", required_argument, 0, O_SLOQ},
        {"steady", no_argument, 0, O_STEADY},
        {"whole-run", no_argument, 0, O_WHOLE},
        {"compat", required_argument, 0, O_COMPAT},
        {"json", no_argument, 0, O_JSON},
        {"csv", no_argument, 0, O_CSV},
        {"markdown", no_argument, 0, O_MD},
        {"per-request", no_argument, 0, O_PERREQ},
        {"plot", required_argument, 0, O_PLOT},
        {"plot-latency", required_argument, 0, O_PLOTLAT},
        {"html", required_argument, 0, O_HTML},
        {"seed", required_argument, 0, O_SEED},
        {"bootstrap", required_argument, 0, O_BOOT},
        {"alpha", required_argument, 0, O_ALPHA},
        {"output", required_argument, 0, 'o'},
        {"quiet", no_argument, 0, 'q'},
        {"help", no_argument, 0, 'h'},
        {"version", no_argument, 0, 'V'},
        {0, 0, 0, 0},
    };
    int ch;
    int64_t v;
    while ((ch = getopt_long(argc, argv, "o:qhV", lo, NULL)) != -1) {
        switch (ch) {
        case O_BY:
            if (parse_by(optarg, &o->by, &o->window_us)) {
                fprintf(stderr, PROG ": bad --by '%s' (label|stage|window=60s|path|model|status)\n",
                        optarg);
                return 2;
            }
            o->by_given = 1;
            break;
        case O_WARM: o->include_warmup = 1; break;
        case O_CONNECT: o->include_connect = 1; break;
        case O_FROM:
            if (!strcmp(optarg, "send"))
                o->from = AN_FROM_SEND;
            else if (!strcmp(optarg, "schedule"))
                o->from = AN_FROM_SCHEDULE;
            else {
                fprintf(stderr, PROG ": bad --latency-from '%s' (send|schedule)\n", optarg);
                return 2;
            }
            break;
        case O_SLO: o->slo = optarg; break;
        case O_SLOQ:
            if (units_parse_double(optarg, &o->slo_quantile) ||
                !(o->slo_quantile > 0 && o->slo_quantile < 1)) {
                fprintf(stderr, PROG ": bad --slo-quantile '%s' (between 0 and 1, e.g. 0.9)\n",
                        optarg);
                return 2;
            }
            break;
        case O_STEADY: o->steady = 1; break;
        case O_WHOLE: o->whole_run = 1; break;
        case O_COMPAT:
            if (strcmp(optarg, "vllm") && strcmp(optarg, "genai-perf") &&
                strcmp(optarg, "guidellm") && strcmp(optarg, "llmperf")) {
                fprintf(stderr, PROG ": bad --compat '%s' (vllm|genai-perf|guidellm|llmperf)\n",
                        optarg);
                return 2;
            }
            o->compat = optarg;
            break;
        case O_JSON: o->out = OUT_JSON; break;
        case O_CSV: o->out = OUT_CSV; break;
        case O_MD: o->out = OUT_MD; break;
        case O_PERREQ: o->out = OUT_PER_REQ; break;
        case O_PLOT: o->plot_dir = optarg; break;
        case O_PLOTLAT:
            if (!strcmp(optarg, "e2e"))
                o->plot_latency = PLOT_LAT_E2E;
            else if (!strcmp(optarg, "tpot"))
                o->plot_latency = PLOT_LAT_TPOT;
            else if (!strcmp(optarg, "ttft"))
                o->plot_latency = PLOT_LAT_TTFT;
            else {
                fprintf(stderr, PROG ": bad --plot-latency '%s' (e2e|tpot|ttft)\n", optarg);
                return 2;
            }
            break;
        case O_HTML: o->html = optarg; break;
        case O_SEED:
            if (units_parse_int64(optarg, 0, INT64_MAX, &v)) {
                fprintf(stderr, PROG ": bad --seed '%s'\n", optarg);
                return 2;
            }
            o->seed = (uint64_t)v;
            break;
        case O_BOOT:
            if (units_parse_int64(optarg, 10, 1000000, &v)) {
                fprintf(stderr, PROG ": bad --bootstrap '%s' (10..1000000)\n", optarg);
                return 2;
            }
            o->rounds = (int)v;
            break;
        case O_ALPHA:
            if (units_parse_double(optarg, &o->alpha) || !(o->alpha > 0 && o->alpha < 1)) {
                fprintf(stderr, PROG ": bad --alpha '%s'\n", optarg);
                return 2;
            }
            break;
        case 'o': o->out_path = optarg; break;
        case 'q': o->quiet = 1; break;
        case 'h': usage(stdout); exit(0);
        case 'V': printf(PROG " %s\n", LLMTRACE_VERSION); exit(0);
        default: usage(stderr); return 2;
        }
    }
    *first_input = optind;
    return 0;
}

/* Reads every input again into a fresh context: another latency origin or grouping, or
 * --steady's windows. The same records, no message printed twice. 0, or 1 when an input
 * failed. */
static int reread_all(struct an_ctx *c, enum an_by by, enum an_latency_from from,
                      struct an_input *ins, size_t n_in, const struct opts *o, FILE *per_req,
                      struct an_steady *steady, size_t n_steady)
{
    char err[512];
    an_free(c);
    an_init(c, by, o->window_us, from, o->include_warmup);
    c->compat = o->compat != NULL;
    c->compat_connect = o->compat && !strcmp(o->compat, "vllm");
    c->include_connect = o->include_connect;
    if (o->slo)
        an_parse_slo(o->slo, &c->slo, err, sizeof err);
    c->steady = steady;
    c->n_steady = n_steady;
    int status = 0;
    for (size_t i = 0; i < n_in; i++) {
        free(ins[i].tool);
        free(ins[i].command);
        free(ins[i].started);
        free(ins[i].trace);
        free(ins[i].describe);
        ins[i].tool = ins[i].command = ins[i].started = ins[i].describe = NULL;
        ins[i].trace = NULL;
        ins[i].trace_bytes = -1;
        ins[i].records = ins[i].bad_lines = 0;
        int li = find_label(c, ins[i].label);
        if (li < 0)
            li = an_add_label(c, ins[i].label);
        if (li < 0 || read_input(c, li, &ins[i], o, per_req, 1, NULL, NULL))
            status = 1;
    }
    return status;
}

int main(int argc, char **argv)
{
    struct opts o = {.rounds = 1000, .seed = 1, .alpha = 0.05, .slo_quantile = 0.9};
    int argi = 1;
    if (argc > 1 && !strcmp(argv[1], "compare")) {
        o.compare = 1;
        argi = 2;
    }
    int first;
    optind = argi;
    int rc = parse_args(argc, argv, &o, &first);
    if (rc)
        return rc;
    if (argc - first < 1) {
        fprintf(stderr, o.compare ? PROG ": compare needs two logs: base=A new=B\n"
                                  : PROG ": no input log (try --help)\n");
        return 2;
    }
    char err[512];
    struct an_slo slo0;
    if (o.slo && an_parse_slo(o.slo, &slo0, err, sizeof err)) {
        fprintf(stderr, PROG ": %s\n", err);
        return 2;
    }
    struct in_list inl = {0};
    int status = 0;
    for (int i = first; i < argc; i++)
        if (expand_input(&inl, argv[i]))
            status = 1;
    /* compare: two labels (each may hold several files) */
    size_t n_labels = 0;
    for (size_t i = 0; i < inl.n; i++) {
        size_t k = 0;
        while (k < i && strcmp(inl.v[k].label, inl.v[i].label))
            k++;
        n_labels += k == i;
    }
    if (o.compare && n_labels != 2 && !status) {
        fprintf(stderr, PROG ": compare needs exactly two labels: base=A new=B (%zu given)\n",
                n_labels);
        in_free(&inl);
        return 2;
    }
    if (status && inl.n == 0) {
        in_free(&inl);
        return 1;
    }
    size_t n_in = inl.n;
    struct an_input *ins = inl.v;
    struct an_ctx c;
    /* compare without --by: read by stage, and keep it when a side has several stages */
    enum an_by by0 = o.compare && !o.by_given ? AN_BY_STAGE : o.by;
    an_init(&c, by0, o.window_us, o.from, o.include_warmup);
    c.compat = o.compat != NULL;
    c.compat_connect = o.compat && !strcmp(o.compat, "vllm");
    c.include_connect = o.include_connect;
    c.slo = slo0;
    if (!o.slo)
        memset(&c.slo, 0, sizeof c.slo);
    char *cmdline = join_argv(argc, argv);
    FILE *out = stdout;
    if (o.out_path && strcmp(o.out_path, "-")) {
        out = fopen(o.out_path, "w");
        if (!out) {
            fprintf(stderr, PROG ": %s: %s\n", o.out_path, strerror(errno));
            free(cmdline);
            in_free(&inl);
            an_free(&c);
            return 1;
        }
    }
    if (o.out == OUT_PER_REQ)
        report_per_request_header(out);
    /* compare: the rows wait for the origin and grouping decisions below. */
    int defer_rows = o.compare || o.steady;
    FILE *rows = o.out == OUT_PER_REQ && !defer_rows ? out : NULL;
    struct srv_set srv; /* the server's metrics records, read once */
    srv_init(&srv);
    struct cap_records stage_recs = {0}; /* replay --search's stage verdicts */
    for (size_t i = 0; i < n_in; i++) {
        int li = find_label(&c, ins[i].label);
        if (li < 0 && (li = an_add_label(&c, ins[i].label)) < 0) {
            fprintf(stderr, PROG ": out of memory\n");
            return 1;
        }
        if (read_input(&c, li, &ins[i], &o, rows, 0, &srv, &stage_recs))
            status = 1;
    }
    srv_finish(&srv);
    int not_whole = 0;
    for (size_t i = 0; i < c.n_labels; i++) {
        not_whole += check_rotation(&inl, c.labels[i], o.quiet);
        not_whole += check_shards(&inl, c.labels[i], o.quiet);
    }
    enum an_by by = o.by;
    const char *stage_note = NULL;
    if (o.compare && !o.by_given && !status) {
        /* Pooling the stages of a sweep mixes concurrency levels: a −81 % at c=32 vanishes
         * into "no significant difference" overall. Several stages → compare stage by stage. */
        size_t per[2] = {0, 0};
        char *has = calloc(c.n_groups ? c.n_groups : 1, 1);
        for (size_t i = 0; has && i < c.n_reqs; i++)
            has[c.reqs[i].group] = 1;
        for (size_t g = 0; g < c.n_groups; g++)
            if (c.groups[g].label_idx < 2 && (!has || has[g])) /* groups of only warm-ups: no */
                per[c.groups[g].label_idx]++;
        free(has);
        if (per[0] > 1 || per[1] > 1) {
            by = AN_BY_STAGE;
            stage_note = "the logs have several stages: compared stage by stage (--by label "
                         "pools them)";
            if (!o.quiet)
                fprintf(stderr, PROG ": compare: %s\n", stage_note);
        } else {
            /* one group per side: the plain label comparison */
            c.by = AN_BY_LABEL;
            for (size_t g = 0; g < c.n_groups; g++) {
                char *k = strdup("");
                if (k) {
                    free(c.groups[g].key);
                    c.groups[g].key = k;
                }
                c.groups[g].has_stage = 0;
            }
        }
    }
    const char *origin_note = NULL;
    enum an_latency_from from_used = o.from;
    if (o.compare && !status) {
        const char *oa = cmp_label_origin(&c, 0), *ob = cmp_label_origin(&c, 1);
        int differ = strcmp(oa, ob) != 0 || !strcmp(oa, "mixed");
        enum an_latency_from from = o.from;
        if (differ && o.from == AN_FROM_AUTO) {
            /* An open-loop run measured from its schedule against a closed-loop one measured
             * from the send would call the client's queueing a server regression: measure
             * both from the send (exact: the logs are read again with that origin). */
            origin_note = "default origins differed: both sides measured from the send "
                          "(--latency-from to choose)";
            from = AN_FROM_SEND;
            if (!o.quiet)
                fprintf(stderr, PROG ": compare: base latency from %s, new from %s by default: "
                                "both measured from the send (--latency-from to choose)\n",
                        oa, ob);
        } else if (differ) {
            fprintf(stderr, PROG ": compare: warning: base latency from %s, new from %s: TTFT, "
                            "TTFB and E2E are not comparable\n", oa, ob);
        }
        /* Read again when the origin changed, or for the per-request rows held back above. */
        if (from != o.from || (defer_rows && o.out == OUT_PER_REQ && !o.steady)) {
            if (reread_all(&c, by, from, ins, n_in, &o,
                           o.out == OUT_PER_REQ && !o.steady ? out : NULL, NULL, 0))
                status = 1;
        }
        from_used = from;
    }
    /* --steady: the windows come from a first reading of every request; the logs are then
     * read again leaving out each stage's ramp-up and drain (the ITL histograms too). */
    struct an_steady *steady = NULL;
    size_t n_steady = 0;
    if (o.steady && c.n_reqs > 0) {
        if (an_steady_plan(&c, &steady, &n_steady)) {
            fprintf(stderr, PROG ": out of memory\n");
            return 1;
        }
        if (n_steady == 0 && !o.quiet)
            fprintf(stderr, PROG ": --steady: the logs have no stages (replay.stage): nothing "
                            "left out\n");
        if (reread_all(&c, c.by, from_used, ins, n_in, &o, o.out == OUT_PER_REQ ? out : NULL,
                       steady, n_steady))
            status = 1;
    }
    an_sort_groups(&c);
    struct an_summary *sums = calloc(c.n_groups ? c.n_groups : 1, sizeof *sums);
    if (!sums)
        return 1;
    for (size_t g = 0; g < c.n_groups; g++)
        if (an_summarize(&c, g, o.compat != NULL, &sums[g])) {
            fprintf(stderr, PROG ": out of memory\n");
            return 1;
        }
    struct cap_result cap = {0};
    if (o.slo && cap_compute(&c, sums, &c.slo, o.slo_quantile, o.alpha,
                                 o.steady ? NULL : &stage_recs, &cap)) {
        fprintf(stderr, PROG ": out of memory\n");
        return 1;
    }
    if (o.slo && c.by != AN_BY_STAGE && !o.quiet) {
        size_t i = 0;
        while (i < c.n_reqs && isnan(c.reqs[i].stage))
            i++;
        if (i < c.n_reqs)
            fprintf(stderr, PROG ": the logs have stages: --by stage gives the capacity answer "
                            "at the SLO\n");
    }
    struct an_report r = {.ctx = &c, .sums = sums, .inputs = ins, .n_inputs = (size_t)n_in,
                          .compat = report_compat_family(o.compat), .command = cmdline,
                          .cap = &cap, .server = &srv};
    char *cmp_text = NULL;
    if (o.compare) {
        if (status) {
            fprintf(stderr, PROG ": compare needs both logs\n");
        } else {
            struct cmp_opts co = {.rounds = o.rounds, .seed = o.seed, .alpha = o.alpha,
                                  .json = o.out == OUT_JSON, .command = cmdline,
                                  .origin_note = origin_note, .group_note = stage_note,
                                  .cap = &cap};
            if (cmp_run(out, &c, &co, err, sizeof err)) {
                fprintf(stderr, PROG ": %s\n", err);
                status = 1;
            } else if (o.html) {
                /* The page shows the comparison table too; re-running with the same seed
                 * reproduces it exactly. */
                size_t len = 0;
                FILE *m = open_memstream(&cmp_text, &len);
                co.json = 0;
                if (m) {
                    cmp_run(m, &c, &co, err, sizeof err);
                    fclose(m);
                }
                r.preface = cmp_text;
            }
        }
    } else {
        /* Nothing readable at all: the errors above say why; print no empty table. */
        int empty = c.n_groups == 0 && status;
        switch (empty ? OUT_PER_REQ : o.out) {
        case OUT_TABLE: report_table(out, &r); break;
        case OUT_JSON: report_json(out, &r); break;
        case OUT_CSV: report_csv(out, &r); break;
        case OUT_MD: report_markdown(out, &r); break;
        case OUT_PER_REQ: break;
        }
    }
    fflush(out);
    struct plot_opts po = {.latency = o.plot_latency, .png = 1, .svg = 1, .cap = &cap,
                           .server = &srv, .axes = o.html != NULL};
    const char *svg_dir = NULL;
    char tmpdir[] = "/tmp/llmtrace-analyze.XXXXXX";
    int made_tmp = 0;
    struct plot_result pres[PLOT_N_CHARTS];
    int have_res = 0;
    char nochart[512];
    if (o.plot_dir && c.n_reqs == 0) {
        fprintf(stderr, PROG ": --plot: no exchanges to chart\n");
        status = 1;
        r.no_charts = "no exchanges to chart";
    } else if (o.plot_dir) {
        if (mkdir(o.plot_dir, 0777) && errno != EEXIST) {
            snprintf(nochart, sizeof nochart, "%s: %s", o.plot_dir, strerror(errno));
            fprintf(stderr, PROG ": %s\n", nochart);
            r.no_charts = nochart;
            status = 1;
        } else if (plot_all(&c, sums, o.plot_dir, &po, pres, err, sizeof err) < 0) {
            fprintf(stderr, PROG ": --plot: %s\n", err);
            status = 1;
            if (plot_find_gnuplot()) { /* e.g. DIR not writable: not a missing gnuplot */
                snprintf(nochart, sizeof nochart, "%s", err);
                r.no_charts = nochart;
            }
        } else {
            svg_dir = o.plot_dir;
            have_res = 1;
        }
    } else if (o.html && plot_find_gnuplot() && mkdtemp(tmpdir)) {
        /* The HTML page embeds SVG text: have gnuplot draw into a private directory that
         * is removed once the page is written. */
        made_tmp = 1;
        po.png = 0;
        if (plot_all(&c, sums, tmpdir, &po, pres, err, sizeof err) >= 0) {
            svg_dir = tmpdir;
            have_res = 1;
        } else {
            fprintf(stderr, PROG ": --html charts: %s\n", err);
            snprintf(nochart, sizeof nochart, "%s", err);
            r.no_charts = nochart;
        }
    } else if (o.html) {
        fprintf(stderr, PROG ": gnuplot not found: the HTML report has tables only\n");
    }
    /* One line per chart not drawn: skipped for lack of data (not an error), or failed. */
    for (int k = 0; have_res && k < PLOT_N_CHARTS; k++) {
        if (pres[k].state == PLOT_SKIPPED && !o.quiet)
            fprintf(stderr, PROG ": %s: %s skipped: %s\n", o.plot_dir ? "--plot" : "--html",
                    plot_chart_names[k], pres[k].why);
        if (pres[k].state == PLOT_FAILED) {
            fprintf(stderr, PROG ": %s: %s not drawn: %s\n", o.plot_dir ? "--plot" : "--html",
                    plot_chart_names[k], pres[k].why);
            status = 1;
        }
    }
    if (o.html && html_write(o.html, &r, svg_dir, have_res ? pres : NULL, err, sizeof err)) {
        fprintf(stderr, PROG ": %s\n", err);
        status = 1;
    }
    /* the axis mappings were for the page only */
    for (const char *const *n = plot_chart_names; po.axes && svg_dir && *n; n++) {
        char p[4200];
        snprintf(p, sizeof p, "%s/%s.axes", svg_dir, *n);
        unlink(p);
    }
    if (made_tmp) {
        for (const char *const *n = plot_chart_names; *n; n++) {
            char p[4200];
            snprintf(p, sizeof p, "%s/%s.svg", tmpdir, *n);
            unlink(p);
        }
        rmdir(tmpdir);
    }
    free(sums);
    free(cmp_text);
    cap_free(&cap);
    srv_free(&srv);
    free(stage_recs.v);
    free(steady);
    if (o.whole_run && not_whole) {
        fprintf(stderr, PROG ": --whole-run: %d problem%s with shards or rotated files: not one "
                        "whole run\n", not_whole,
                not_whole == 1 ? "" : "s");
        status = 1;
    }
    if (out != stdout && fclose(out)) {
        fprintf(stderr, PROG ": %s: %s\n", o.out_path, strerror(errno));
        status = 1;
    }
    for (size_t i = 0; i < n_in; i++) {
        free(ins[i].label);
        free(ins[i].path);
        free(ins[i].tool);
        free(ins[i].command);
        free(ins[i].started);
        free(ins[i].trace);
        free(ins[i].describe);
    }
    free(ins);
    free(cmdline);
    an_free(&c);
    return status;
}
