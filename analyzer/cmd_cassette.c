/* cmd_cassette.c — `hc-analyze cassette list|merge|prune`: work on the
 * cassette files HC_REPLAY writes (format: core/replay.h, README "Record and
 * replay"). No store is opened.
 *
 *   list FILE… [filters]         one line per entry; --json prints the
 *                                selected entries as JSON Lines (a filter)
 *   merge -o OUT FILE…           the entries of every FILE, in order, into
 *                                OUT (0600, replaced atomically); --dedupe
 *                                drops byte-identical lines
 *   prune FILE filters [--dry-run]  remove the selected entries from FILE
 *
 * Lines that are not cassette entries are reported (once per file) and kept
 * by merge and prune: nothing is lost that the command was not asked to drop.
 * Writes go to a temporary file in the target's directory, then rename(2).
 */
#include "cli.h"
#include "cmds.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char usage[] =
    "usage: hc-analyze cassette list FILE... [filters] [--json]\n"
    "       hc-analyze cassette merge -o OUT FILE... [--dedupe]\n"
    "       hc-analyze cassette prune FILE filters [--dry-run]\n"
    "\n"
    "Cassettes are the JSON Lines files HC_REPLAY=record writes (README, \"Record\n"
    "and replay\"). list prints one line per entry (LINE STATUS S(treamed) HOST\n"
    "PATH MODEL and the last prompt); with --json the selected entries themselves,\n"
    "so `list --model 'claude*' --json > sub.jsonl` filters a cassette. merge\n"
    "concatenates cassettes in order. prune removes the entries the filters select\n"
    "(at least one filter is required). Lines that are not entries are kept.\n"
    "\n"
    "Filters (all must match):\n"
    "  --host H           provider host, e.g. api.openai.com\n"
    "  --model M          model requested; glob (gpt-4o*)\n"
    "  --path P           request path contains P\n"
    "  --status S         200 | 4xx | 5xx (the recorded answer's status)\n"
    "  --grep TEXT        the request as matched contains TEXT\n"
    "\n"
    "  -o, --output OUT   merge: the file to write (replaced)\n"
    "  --dedupe           merge: drop lines identical to an earlier one\n"
    "  --dry-run          prune: say what would go; change nothing\n"
    "  --json             list: the selected entries as JSON Lines\n"
    "  -h, --help         this help\n";

enum { OPT_HOST = OPT_CMD, OPT_PATH, OPT_GREP, OPT_OUT, OPT_DEDUPE, OPT_DRY };

static const cli_opt opts[] = {
    { "help", 'h', false, OPT_HELP },
    { "json", 0, false, OPT_JSON },
    { "host", 0, true, OPT_HOST },
    { "model", 0, true, OPT_MODEL },
    { "path", 0, true, OPT_PATH },
    { "status", 0, true, OPT_STATUS },
    { "grep", 0, true, OPT_GREP },
    { "output", 'o', true, OPT_OUT },
    { "dedupe", 0, false, OPT_DEDUPE },
    { "dry-run", 0, false, OPT_DRY },
    { 0 },
};

struct filt {
    const char *host, *model, *path, *grep;
    int status_lo, status_hi; /* 0: any */
    bool any;
};

/* A parsed line: its fields point into the cJSON tree (NULL when absent). */
struct ent {
    cJSON *o;
    const char *host, *path, *model;
    int status;
    bool streamed;
    char *request; /* owned: the request as matched, as text */
};

static const char *str_of(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : "";
}

static bool parse_ent(const char *line, struct ent *e)
{
    memset(e, 0, sizeof *e);
    e->o = cJSON_Parse(line);
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(e->o, "status");
    if (!cJSON_IsObject(e->o) || !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(e->o, "key")) ||
        !cJSON_IsNumber(st)) {
        cJSON_Delete(e->o);
        e->o = NULL;
        return false;
    }
    e->host = str_of(e->o, "host");
    e->path = str_of(e->o, "path");
    e->model = str_of(e->o, "model");
    e->status = st->valueint;
    e->streamed = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(e->o, "streamed"));
    const cJSON *rq = cJSON_GetObjectItemCaseSensitive(e->o, "request");
    e->request = cJSON_IsString(rq) ? strdup(rq->valuestring)
                 : rq               ? cJSON_PrintUnformatted(rq)
                                    : strdup("");
    return true;
}

static void free_ent(struct ent *e)
{
    cJSON_Delete(e->o);
    free(e->request);
    memset(e, 0, sizeof *e);
}

static bool selected(const struct filt *f, const struct ent *e)
{
    if (f->host && strcmp(f->host, e->host) != 0)
        return false;
    if (f->model && fnmatch(f->model, e->model, 0) != 0)
        return false;
    if (f->path && !strstr(e->path, f->path))
        return false;
    if (f->status_lo && (e->status < f->status_lo || e->status > f->status_hi))
        return false;
    if (f->grep && !(e->request && strstr(e->request, f->grep)))
        return false;
    return true;
}

/* The last prompt text of a request (chat messages, Anthropic, Responses,
 * Gemini contents), else the request's start; at most 60 characters. */
static void prompt_of(const struct ent *e, char *out, size_t size)
{
    const char *txt = NULL;
    cJSON *rq = e->request ? cJSON_Parse(e->request) : NULL;
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(rq, "messages");
    if (!list)
        list = cJSON_GetObjectItemCaseSensitive(rq, "contents");
    const cJSON *in = cJSON_GetObjectItemCaseSensitive(rq, "input");
    if (cJSON_IsString(in))
        txt = in->valuestring;
    const cJSON *last =
        cJSON_IsArray(list) ? cJSON_GetArrayItem(list, cJSON_GetArraySize(list) - 1) : NULL;
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(last, "content");
    if (!c)
        c = cJSON_GetObjectItemCaseSensitive(last, "parts");
    if (cJSON_IsString(c))
        txt = c->valuestring;
    else if (cJSON_IsArray(c)) {
        const cJSON *p;
        cJSON_ArrayForEach(p, c)
        {
            const cJSON *t = cJSON_GetObjectItemCaseSensitive(p, "text");
            if (cJSON_IsString(t))
                txt = t->valuestring;
        }
    }
    if (!txt)
        txt = e->request ? e->request : "";
    size_t j = 0;
    for (size_t i = 0; txt[i] && j + 4 < size && i < 60; i++)
        out[j++] = (unsigned char)txt[i] < 0x20 ? ' ' : txt[i];
    if (strlen(txt) > 60 && j + 4 < size)
        out[j++] = '.', out[j++] = '.', out[j++] = '.';
    out[j] = '\0';
    cJSON_Delete(rq);
}

/* Read FILE's lines (without newlines) into *lines. 0, or CLI_EXIT_MISUSE after a message. */
static int read_lines(const char *file, char ***lines, size_t *n)
{
    FILE *f = fopen(file, "re");
    if (!f)
        return cli_misuse("cassette: cannot read '%s': %s", file, strerror(errno));
    char *line = NULL;
    size_t cap = 0;
    ssize_t k;
    *lines = NULL;
    *n = 0;
    while ((k = getline(&line, &cap, f)) >= 0) {
        while (k && (line[k - 1] == '\n' || line[k - 1] == '\r'))
            line[--k] = '\0';
        if (!k)
            continue;
        char **g = realloc(*lines, (*n + 1) * sizeof **lines);
        char *d = strdup(line);
        if (!g || !d) {
            free(d);
            if (g)
                *lines = g;
            fclose(f);
            free(line);
            return cli_misuse("cassette: out of memory reading '%s'", file);
        }
        *lines = g;
        (*lines)[(*n)++] = d;
    }
    free(line);
    fclose(f);
    return 0;
}

static void free_lines(char **lines, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(lines[i]);
    free(lines);
}

/* Write lines to `file` atomically (temporary file beside it, 0600, rename). */
static int write_lines(const char *file, char **lines, size_t n, const bool *keep)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp.%d", file, (int)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return cli_misuse("cassette: cannot write '%s': %s", tmp, strerror(errno));
    FILE *f = fdopen(fd, "w");
    if (!f) {
        close(fd);
        unlink(tmp);
        return cli_misuse("cassette: cannot write '%s': %s", tmp, strerror(errno));
    }
    for (size_t i = 0; i < n; i++)
        if (!keep || keep[i])
            fprintf(f, "%s\n", lines[i]);
    bool ok = fflush(f) == 0 && fsync(fileno(f)) == 0;
    ok = fclose(f) == 0 && ok;
    if (!ok || rename(tmp, file) != 0) {
        int e = errno;
        unlink(tmp);
        return cli_misuse("cassette: cannot write '%s': %s", file, strerror(e));
    }
    return 0;
}

static int do_list(const struct filt *flt, bool json, char **files, int nfiles)
{
    size_t shown = 0, total = 0;
    for (int fi = 0; fi < nfiles; fi++) {
        char **lines;
        size_t n;
        int rc = read_lines(files[fi], &lines, &n);
        if (rc)
            return rc;
        if (!json && fi == 0)
            printf("%-28s %-6s %-1s %-28s %-26s %-24s %s\n", "FILE:LINE", "STATUS", "S", "HOST",
                   "PATH", "MODEL", "PROMPT");
        size_t bad = 0;
        for (size_t i = 0; i < n; i++) {
            struct ent e;
            if (!parse_ent(lines[i], &e)) {
                if (!bad++)
                    cli_warn("%s line %zu is not a cassette entry", files[fi], i + 1);
                continue;
            }
            total++;
            if (selected(flt, &e)) {
                shown++;
                if (json) {
                    printf("%s\n", lines[i]);
                } else {
                    char where[64], prompt[80];
                    const char *base = strrchr(files[fi], '/');
                    snprintf(where, sizeof where, "%.20s:%zu", base ? base + 1 : files[fi], i + 1);
                    prompt_of(&e, prompt, sizeof prompt);
                    printf("%-28s %-6d %-1s %-28s %-26s %-24s %s\n", where, e.status,
                           e.streamed ? "S" : "", e.host, e.path, e.model, prompt);
                }
            }
            free_ent(&e);
        }
        free_lines(lines, n);
    }
    if (!json)
        printf("%zu of %zu entries\n", shown, total);
    return CLI_EXIT_OK;
}

static int do_merge(const char *out, bool dedupe, char **files, int nfiles)
{
    char **all = NULL;
    size_t nall = 0, dropped = 0;
    int rc = 0;
    for (int fi = 0; fi < nfiles && !rc; fi++) {
        char **lines;
        size_t n;
        if ((rc = read_lines(files[fi], &lines, &n)))
            break;
        char **g = realloc(all, (nall + n + 1) * sizeof *all);
        if (!g) {
            free_lines(lines, n);
            rc = cli_misuse("cassette: out of memory");
            break;
        }
        all = g;
        for (size_t i = 0; i < n; i++) {
            bool dup = false;
            for (size_t j = 0; dedupe && j < nall && !dup; j++)
                dup = strcmp(all[j], lines[i]) == 0;
            if (dup) {
                free(lines[i]);
                dropped++;
            } else {
                all[nall++] = lines[i];
            }
        }
        free(lines);
    }
    if (!rc)
        rc = write_lines(out, all, nall, NULL);
    if (!rc)
        printf("merged %d file(s) into %s: %zu lines%s", nfiles, out, nall, dedupe ? "" : "\n");
    if (!rc && dedupe)
        printf(", %zu duplicate(s) dropped\n", dropped);
    free_lines(all, nall);
    return rc;
}

static int do_prune(const struct filt *flt, bool dry, const char *file)
{
    char **lines;
    size_t n;
    int rc = read_lines(file, &lines, &n);
    if (rc)
        return rc;
    bool *keep = calloc(n + 1, sizeof *keep);
    if (!keep) {
        free_lines(lines, n);
        return cli_misuse("cassette: out of memory");
    }
    size_t gone = 0;
    for (size_t i = 0; i < n; i++) {
        struct ent e;
        keep[i] = true;
        if (parse_ent(lines[i], &e)) {
            if (selected(flt, &e)) {
                keep[i] = false;
                gone++;
                if (dry)
                    printf("would remove line %zu: %d %s%s %s\n", i + 1, e.status, e.host, e.path,
                           e.model);
            }
            free_ent(&e);
        }
    }
    if (!dry && gone)
        rc = write_lines(file, lines, n, keep);
    if (!rc)
        printf("%s %zu of %zu lines from %s\n", dry ? "would remove" : "removed", gone, n, file);
    free(keep);
    free_lines(lines, n);
    return rc;
}

static int parse_status(const char *s, struct filt *f)
{
    char *end;
    if (strlen(s) == 3 && (s[1] == 'x' || s[1] == 'X') && (s[2] == 'x' || s[2] == 'X') &&
        s[0] >= '1' && s[0] <= '5') {
        f->status_lo = (s[0] - '0') * 100;
        f->status_hi = f->status_lo + 99;
        return 0;
    }
    long v = strtol(s, &end, 10);
    if (*s && !*end && v >= 100 && v <= 599) {
        f->status_lo = f->status_hi = (int)v;
        return 0;
    }
    return cli_misuse(
        "cassette: --status: expected a status such as 200 or a class such as 4xx, got '%s'", s);
}

int cmd_cassette(int argc, char **argv)
{
    cli_parser p;
    cli_init(&p, argc, argv, "cassette");
    struct filt flt = { 0 };
    const char *out = NULL, *sub = NULL, *arg;
    bool json = false, dedupe = false, dry = false;
    char **files = calloc((size_t)argc + 1, sizeof *files);
    int nfiles = 0, id, rc = CLI_EXIT_OK;
    if (!files)
        return cli_misuse("cassette: out of memory");
    while ((id = cli_next(&p, opts, &arg)) != CLI_END) {
        switch (id) {
        case CLI_ERR: rc = CLI_EXIT_MISUSE; goto cleanup;
        case OPT_HELP: fputs(usage, stdout); goto cleanup;
        case OPT_JSON: json = true; break;
        case OPT_HOST:
            flt.host = arg;
            flt.any = true;
            break;
        case OPT_MODEL:
            flt.model = arg;
            flt.any = true;
            break;
        case OPT_PATH:
            flt.path = arg;
            flt.any = true;
            break;
        case OPT_GREP:
            flt.grep = arg;
            flt.any = true;
            break;
        case OPT_STATUS:
            if ((rc = parse_status(arg, &flt)))
                goto cleanup;
            flt.any = true;
            break;
        case OPT_OUT: out = arg; break;
        case OPT_DEDUPE: dedupe = true; break;
        case OPT_DRY: dry = true; break;
        case CLI_POS:
            if (!sub)
                sub = arg;
            else
                files[nfiles++] = (char *)arg;
            break;
        default: rc = cli_misuse("cassette: unexpected option"); goto cleanup;
        }
    }
    if (!sub) {
        rc = cli_misuse("cassette: expected a subcommand: list, merge or prune (see --help)");
    } else if (strcmp(sub, "list") == 0) {
        rc = nfiles ? do_list(&flt, json, files, nfiles)
                    : cli_misuse("cassette list: expected a cassette FILE");
    } else if (strcmp(sub, "merge") == 0) {
        if (!out)
            rc = cli_misuse("cassette merge: expected -o OUT, the file to write");
        else if (!nfiles)
            rc = cli_misuse("cassette merge: expected at least one cassette FILE to read");
        else
            rc = do_merge(out, dedupe, files, nfiles);
    } else if (strcmp(sub, "prune") == 0) {
        if (nfiles != 1)
            rc = cli_misuse("cassette prune: expected exactly one cassette FILE, got %d", nfiles);
        else if (!flt.any)
            rc = cli_misuse(
                "cassette prune: expected at least one filter (--host, --model, --path, --status, "
                "--grep); to remove everything, delete the file");
        else
            rc = do_prune(&flt, dry, files[0]);
    } else {
        rc = cli_misuse("cassette: unknown subcommand '%s' (expected list, merge or prune)", sub);
    }
cleanup:
    free(files);
    return rc;
}
