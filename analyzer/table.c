/* table.c — aligned text and CSV tables (see table.h). */
#include "table.h"
#include "buf.h"
#include "fmt.h"
#include "utf8.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

struct table {
    FILE            *f;
    enum cli_fmt     fmt;
    const table_col *cols;
    size_t           ncols;
    size_t           col;        /* next cell's column in the current row */
    char           **cur;        /* text cells of the current row */
    char           **rows;       /* buffered rows (ncols cells each), text mode */
    size_t           nrows, caprows;
    size_t          *width;      /* final column widths once fixed */
    bool            *hidden;     /* TBL_DROP columns left out to fit */
    bool             fixed;      /* widths decided; rows now stream */
    bool             color;
    int              term;
};

int table_term_width(FILE *f)
{
    struct winsize ws;
    if (isatty(fileno(f)) && ioctl(fileno(f), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
        return ws.ws_col;
    const char *c = getenv("COLUMNS");
    if (c && *c) {
        int v = atoi(c);
        if (v > 0)
            return v;
    }
    return 0;
}

bool table_color(FILE *f)
{
    const char *nc = getenv("NO_COLOR"), *term = getenv("TERM");
    if (nc && *nc)
        return false;
    if (term && strcmp(term, "dumb") == 0)
        return false;
    return isatty(fileno(f));
}

void table_csv_field(FILE *f, const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

table *table_new(FILE *f, enum cli_fmt fmt, const table_col *cols, size_t ncols)
{
    table *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->f = f;
    t->fmt = fmt == CLI_CSV ? CLI_CSV : CLI_TEXT;
    t->cols = cols;
    t->ncols = ncols;
    t->cur = calloc(ncols, sizeof *t->cur);
    t->width = calloc(ncols, sizeof *t->width);
    t->hidden = calloc(ncols, sizeof *t->hidden);
    if (!t->cur || !t->width || !t->hidden) {
        free(t->cur);
        free(t->width);
        free(t->hidden);
        free(t);
        return NULL;
    }
    t->color = table_color(f);
    t->term = table_term_width(f);
    if (t->fmt == CLI_CSV) {
        for (size_t i = 0; i < ncols; i++) {
            if (i)
                fputc(',', f);
            table_csv_field(f, cols[i].csv);
        }
        fputs("\r\n", f);
    }
    return t;
}

/* Decide the column widths from the buffered rows and the terminal. */
static void fix_widths(table *t)
{
    for (size_t c = 0; c < t->ncols; c++) {
        size_t w = utf8_width(t->cols[c].title);
        for (size_t r = 0; r < t->nrows; r++) {
            size_t cw = utf8_width(t->rows[r * t->ncols + c]);
            if (cw > w)
                w = cw;
        }
        t->width[c] = w > TABLE_MAX_CELL ? TABLE_MAX_CELL : w;
    }
    if (t->term > 0) {
        /* Narrow the widest shrinkable column one step at a time: fair to all. */
        for (;;) {
            size_t total = 0, shown = 0;
            for (size_t c = 0; c < t->ncols; c++)
                if (!t->hidden[c])
                    total += t->width[c] + (shown++ ? 2 : 0);
            if (total <= (size_t)t->term)
                break;
            size_t best = t->ncols;
            for (size_t c = 0; c < t->ncols; c++)
                if (!t->hidden[c] && (t->cols[c].flags & TBL_SHRINK) && t->width[c] > 4 &&
                    (best == t->ncols || t->width[c] > t->width[best]))
                    best = c;
            if (best < t->ncols) {
                t->width[best]--;
                continue;
            }
            for (size_t c = t->ncols; c-- > 0;)
                if (!t->hidden[c] && (t->cols[c].flags & TBL_DROP)) {
                    best = c;
                    break;
                }
            if (best == t->ncols)
                break;
            t->hidden[best] = true;
        }
    }
    t->fixed = true;
}

static void print_cell(table *t, size_t c, const char *s, bool last)
{
    size_t w = utf8_width(s), cw = t->width[c];
    bool right = t->cols[c].flags & TBL_RIGHT;
    if (w > cw) {
        size_t keep = utf8_prefix(s, cw ? cw - 1 : 0);
        fwrite(s, 1, keep, t->f);
        fputs("…", t->f);
        w = cw;
        s = "";
        right = false;
    } else if (right) {
        for (size_t i = w; i < cw; i++)
            fputc(' ', t->f);
        fputs(s, t->f);
        return;
    } else {
        fputs(s, t->f);
    }
    if (!last)
        for (size_t i = w; i < cw; i++)
            fputc(' ', t->f);
}

static size_t last_shown(const table *t)
{
    size_t last = 0;
    for (size_t c = 0; c < t->ncols; c++)
        if (!t->hidden[c])
            last = c;
    return last;
}

static void print_row(table *t, char **cells)
{
    size_t last = last_shown(t);
    bool first = true;
    for (size_t c = 0; c < t->ncols; c++) {
        if (t->hidden[c])
            continue;
        if (!first)
            fputs("  ", t->f);
        first = false;
        print_cell(t, c, cells[c], c == last);
    }
    fputc('\n', t->f);
}

static void print_header(table *t)
{
    size_t last = last_shown(t);
    bool first = true;
    if (t->color)
        fputs("\033[1m", t->f);
    for (size_t c = 0; c < t->ncols; c++) {
        if (t->hidden[c])
            continue;
        if (!first)
            fputs("  ", t->f);
        first = false;
        print_cell(t, c, t->cols[c].title, c == last);
    }
    if (t->color)
        fputs("\033[0m", t->f);
    fputc('\n', t->f);
}

static void flush_buffered(table *t)
{
    fix_widths(t);
    print_header(t);
    for (size_t r = 0; r < t->nrows; r++) {
        print_row(t, t->rows + r * t->ncols);
        for (size_t c = 0; c < t->ncols; c++)
            free(t->rows[r * t->ncols + c]);
    }
    t->nrows = 0;
}

static void end_row(table *t)
{
    t->col = 0;
    if (t->fixed) {
        print_row(t, t->cur);
        for (size_t c = 0; c < t->ncols; c++) {
            free(t->cur[c]);
            t->cur[c] = NULL;
        }
        return;
    }
    if (t->nrows == t->caprows) {
        size_t ncap = t->caprows ? t->caprows * 2 : 64;
        char **nr = realloc(t->rows, ncap * t->ncols * sizeof *nr);
        if (!nr)
            goto drop;
        t->rows = nr;
        t->caprows = ncap;
    }
    memcpy(t->rows + t->nrows * t->ncols, t->cur, t->ncols * sizeof *t->cur);
    memset(t->cur, 0, t->ncols * sizeof *t->cur);
    t->nrows++;
    if (t->nrows >= TABLE_PROBE_ROWS)
        flush_buffered(t);
    return;
drop:
    for (size_t c = 0; c < t->ncols; c++) {
        free(t->cur[c]);
        t->cur[c] = NULL;
    }
}

void table_cell2(table *t, const char *text, const char *csv)
{
    if (!t)
        return;
    if (!text)
        text = "";
    if (t->fmt == CLI_CSV) {
        if (t->col)
            fputc(',', t->f);
        table_csv_field(t->f, csv ? csv : text);
        if (++t->col == t->ncols) {
            fputs("\r\n", t->f);
            t->col = 0;
        }
        return;
    }
    char *copy;
    if (t->cols[t->col].flags & TBL_RAW || fmt_term_safe(text, strlen(text))) {
        copy = strdup(text);
    } else {
        hc_buf b = HC_BUF_INIT;
        fmt_term(&b, text, strlen(text), 0);
        copy = b.data;
    }
    t->cur[t->col] = copy ? copy : strdup("");
    if (++t->col == t->ncols)
        end_row(t);
}

void table_cell(table *t, const char *text)
{
    table_cell2(t, text, NULL);
}

void table_cellf(table *t, const char *fmt, ...)
{
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n < sizeof small) {
        table_cell(t, small);
        return;
    }
    char *big = NULL;
    va_start(ap, fmt);
    if (vasprintf(&big, fmt, ap) < 0)
        big = NULL;
    va_end(ap);
    table_cell(t, big ? big : "");
    free(big);
}

void table_end(table *t)
{
    if (!t)
        return;
    if (t->fmt == CLI_TEXT) {
        if (!t->fixed)
            flush_buffered(t);
    }
    for (size_t c = 0; c < t->ncols; c++)
        free(t->cur[c]);
    free(t->cur);
    free(t->rows);
    free(t->width);
    free(t->hidden);
    free(t);
}
