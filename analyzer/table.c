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
    FILE *f;
    enum cli_fmt fmt;
    const table_col *cols;
    size_t ncols;
    size_t col;  /* next cell's column in the current row */
    char **cur;  /* text cells of the current row */
    char **rows; /* buffered rows (ncols cells each), text mode */
    size_t nrows, caprows;
    size_t *width; /* final column widths once fixed */
    bool *hidden;  /* TBL_DROP columns left out to fit */
    bool fixed;    /* widths decided; rows now stream */
    bool color;
    int term;
    hc_buf line; /* the text line being assembled */
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

/* Columns of s[0, n): one per code point. */
static size_t width_n(const char *s, size_t n)
{
    size_t w = 0;
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)s[i] & 0xc0) != 0x80)
            w++;
    return w;
}

/* Bytes of the longest prefix of s[0, n) that takes at most cols columns. */
static size_t prefix_n(const char *s, size_t n, size_t cols)
{
    size_t w = 0, i = 0;
    for (; i < n; i++)
        if (((unsigned char)s[i] & 0xc0) != 0x80) {
            if (w == cols)
                break;
            w++;
        }
    return i;
}

/* Write the line s[0, n) (no '\n') in lines of at most term columns. */
static void wrap_line(FILE *f, const char *s, size_t n, size_t term, size_t indent)
{
    if (indent * 2 > term)
        indent = term >= 8 ? 2 : 0;
    size_t skip = indent; /* the first line's label: never broken inside */
    for (bool first = true;; first = false) {
        size_t avail = first ? term : term - indent;
        if (width_n(s, n) <= avail) {
            fwrite(s, 1, n, f);
            return;
        }
        /* Break at a gap of 3+ spaces between items (the widest, then the
         * last) that ends a piece fitting in avail and fills at least half the
         * line; else after the last ',', ';' or ':' that does; else at the
         * last space that does; else inside a word. */
        size_t gap = 0, gap_len = 0, clause = 0, space = 0, col = 0;
        for (size_t i = 0; i < n && col <= avail; i++) {
            if (s[i] == ' ' && i > 0 && s[i - 1] != ' ' && col > (first ? skip : 0)) {
                size_t run = 1;
                while (i + run < n && s[i + run] == ' ')
                    run++;
                space = i;
                if (run >= 3 && col * 2 >= avail && run >= gap_len) {
                    gap = i;
                    gap_len = run;
                }
                if (col * 2 >= avail && strchr(",;:", s[i - 1]))
                    clause = i;
            }
            if (((unsigned char)s[i] & 0xc0) != 0x80)
                col++;
        }
        size_t brk = gap ? gap : clause ? clause : space;
        if (!brk) {
            brk = prefix_n(s, n, avail);
            if (!brk)
                brk = 1;
        }
        fwrite(s, 1, brk, f);
        fputc('\n', f);
        while (brk < n && s[brk] == ' ')
            brk++;
        s += brk;
        n -= brk;
        if (!n)
            return;
        for (size_t i = 0; i < indent; i++)
            fputc(' ', f);
    }
}

FILE *table_text_begin(table_text *tt, FILE *f, int indent)
{
    memset(tt, 0, sizeof *tt);
    tt->f = f;
    tt->indent = indent > 0 ? indent : 0;
    tt->term = table_term_width(f);
    if (tt->term <= 0 || !(tt->mem = open_memstream(&tt->buf, &tt->len)))
        return f;
    return tt->mem;
}

void table_text_end(table_text *tt)
{
    if (!tt->mem)
        return;
    fclose(tt->mem);
    tt->mem = NULL;
    const char *p = tt->buf, *end = tt->buf ? tt->buf + tt->len : NULL;
    while (p && p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        wrap_line(tt->f, p, n, (size_t)tt->term, (size_t)tt->indent);
        if (nl)
            fputc('\n', tt->f);
        p += n + (nl ? 1 : 0);
    }
    free(tt->buf);
    tt->buf = NULL;
}

void table_textf(FILE *f, int indent, const char *fmt, ...)
{
    table_text tt;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(table_text_begin(&tt, f, indent), fmt, ap);
    va_end(ap);
    table_text_end(&tt);
}

void table_csv_field(FILE *f, const char *s)
{
    /* CSV is data: to a file or a pipe every value is exact. On a terminal,
     * where they would act, control characters (C0, DEL and the C1 range,
     * e.g. U+009B CSI) are escaped as in text output; line breaks and tabs
     * stay (quoted). isatty is asked once per descriptor, not per field. */
    static int tty_fd = -1, tty;
    if (fileno(f) != tty_fd) {
        tty_fd = fileno(f);
        tty = isatty(tty_fd);
    }
    hc_buf esc = HC_BUF_INIT;
    size_t n = strlen(s);
    if (tty && !fmt_term_safe(s, n) && fmt_term(&esc, s, n, FMT_KEEP_NL) == 0 && esc.data)
        s = esc.data;
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, f);
    } else {
        fputc('"', f);
        for (; *s; s++) {
            if (*s == '"')
                fputc('"', f);
            fputc(*s, f);
        }
        fputc('"', f);
    }
    hc_buf_free(&esc);
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

/* Width of the shown columns with widths w[] (2 spaces between columns). */
static size_t total_width(const table *t, const size_t *w)
{
    size_t total = 0, shown = 0;
    for (size_t c = 0; c < t->ncols; c++)
        if (!t->hidden[c])
            total += w[c] + (shown++ ? 2 : 0);
    return total;
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
        size_t term = (size_t)t->term;
        /* First leave out optional columns (rightmost first) while the table
         * would not fit even with its shrinkable columns at TABLE_SHRINK_SOFT:
         * better fewer columns than every name cut to a stub. */
        size_t *soft = malloc(t->ncols * sizeof *soft);
        if (soft) {
            for (size_t c = 0; c < t->ncols; c++)
                soft[c] = (t->cols[c].flags & TBL_SHRINK) && t->width[c] > TABLE_SHRINK_SOFT
                              ? TABLE_SHRINK_SOFT
                              : t->width[c];
            while (total_width(t, soft) > term) {
                size_t drop = t->ncols;
                for (size_t c = t->ncols; c-- > 0;)
                    if (!t->hidden[c] && (t->cols[c].flags & TBL_DROP)) {
                        drop = c;
                        break;
                    }
                if (drop == t->ncols)
                    break;
                t->hidden[drop] = true;
            }
            free(soft);
        }
        /* Then narrow the widest shrinkable column one step at a time (fair to
         * all), down to TABLE_SHRINK_MIN; then drop what optional columns are
         * left. A table still too wide has its lines cut (print_line). */
        while (total_width(t, t->width) > term) {
            size_t best = t->ncols;
            for (size_t c = 0; c < t->ncols; c++)
                if (!t->hidden[c] && (t->cols[c].flags & TBL_SHRINK) &&
                    t->width[c] > TABLE_SHRINK_MIN &&
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

static void pad(hc_buf *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        hc_buf_append(b, " ", 1);
}

static void print_cell(table *t, size_t c, const char *s, bool last)
{
    hc_buf *b = &t->line;
    size_t w = utf8_width(s), cw = t->width[c];
    bool right = t->cols[c].flags & TBL_RIGHT;
    if (w > cw) {
        size_t keep = utf8_prefix(s, cw ? cw - 1 : 0);
        hc_buf_append(b, s, keep);
        hc_buf_puts(b, "…");
        w = cw;
    } else if (right) {
        pad(b, cw - w);
        hc_buf_puts(b, s);
        return;
    } else {
        hc_buf_puts(b, s);
    }
    if (!last)
        pad(b, cw - w);
}

/* Write the assembled line; one wider than the terminal (columns that cannot
 * shrink or be left out) is cut, ending in "…". */
static void print_line(table *t)
{
    hc_buf *b = &t->line;
    if (!b->data)
        return;
    fmt_built(b); /* never a line with a piece missing */
    if (t->term > 0 && utf8_width(b->data) > (size_t)t->term) {
        fwrite(b->data, 1, utf8_prefix(b->data, (size_t)t->term - 1), t->f);
        fputs("…", t->f);
    } else {
        fwrite(b->data, 1, b->len, t->f);
    }
    hc_buf_reset(b);
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
            hc_buf_puts(&t->line, "  ");
        first = false;
        print_cell(t, c, cells[c], c == last);
    }
    print_line(t);
    fputc('\n', t->f);
}

static void print_header(table *t)
{
    size_t last = last_shown(t);
    bool first = true;
    for (size_t c = 0; c < t->ncols; c++) {
        if (t->hidden[c])
            continue;
        if (!first)
            hc_buf_puts(&t->line, "  ");
        first = false;
        print_cell(t, c, t->cols[c].title, c == last);
    }
    if (t->color)
        fputs("\033[1m", t->f);
    print_line(t);
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
        fmt_built(&b);
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
        /* Never drop columns silently: say which, and how to see them. */
        hc_buf names = HC_BUF_INIT;
        size_t n = 0;
        for (size_t c = 0; c < t->ncols; c++)
            if (t->hidden[c])
                hc_buf_printf(&names, "%s%s", n++ ? ", " : "", t->cols[c].title);
        if (n)
            table_textf(t->f, 1,
                        "(%zu column%s left out to fit %d columns: %s; pipe through 'less -S', "
                        "or use --csv or --json, to see every column)\n",
                        n, n == 1 ? "" : "s", t->term, fmt_built(&names));
        hc_buf_free(&names);
    }
    for (size_t c = 0; c < t->ncols; c++)
        free(t->cur[c]);
    free(t->cur);
    free(t->rows);
    free(t->width);
    free(t->hidden);
    hc_buf_free(&t->line);
    free(t);
}
