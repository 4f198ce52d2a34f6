/* table.h — tabular output: aligned text for people, CSV for programs.
 *
 * A command declares its columns, then adds cells row by row; a row ends when
 * every column has a cell. Each cell has two spellings: the text one (for
 * people: "$0.0123", "1,234", "812 ms") and the CSV one (exact: "0.012345678",
 * "1234", "812.345"); a cell given one spelling uses it for both.
 *
 * Text mode:
 *   - cell text is escaped for the terminal (fmt_term), so no app- or
 *     provider-controlled byte reaches the terminal raw;
 *   - columns are aligned; widths come from the first TABLE_PROBE_ROWS rows,
 *     then later rows stream out with the same widths (so `requests --limit 0`
 *     over a million records needs no memory for the rows);
 *   - when the table is wider than the terminal (table_term_width), columns
 *     flagged TBL_DROP are left out, rightmost first, as long as the table
 *     would not fit even with its TBL_SHRINK columns at TABLE_SHRINK_SOFT;
 *     then the TBL_SHRINK columns are narrowed, widest first (down to
 *     TABLE_SHRINK_MIN), and over-long cells end in "…"; if that is not
 *     enough, the remaining TBL_DROP columns are left out too. A table whose
 *     fixed columns alone are wider than the terminal has its lines cut at
 *     the terminal's width, ending in "…": no line is ever wider. Cells
 *     longer than TABLE_MAX_CELL columns are always cut.
 *   - the header is bold when colour is on (table_color).
 * CSV mode (RFC 4180): a header row of the columns' csv names, then every row;
 * fields containing ',', '"', CR or LF are quoted with '"' doubled; lines end
 * in CRLF as the RFC says.
 *
 * A table owns copies of every cell. Not thread-safe.
 */
#ifndef HC_ANA_TABLE_H
#define HC_ANA_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "cli.h"

#define TABLE_PROBE_ROWS  1000
#define TABLE_MAX_CELL    80
#define TABLE_SHRINK_SOFT 12 /* shrinkable columns keep this much before optional ones go */
#define TABLE_SHRINK_MIN  4  /* ... and are never narrower than this */

enum {
    TBL_LEFT = 0,
    TBL_RIGHT = 1u << 0,  /* numbers */
    TBL_SHRINK = 1u << 1, /* may be narrowed to fit the terminal */
    TBL_RAW = 1u << 2,    /* text is already terminal-safe (tree drawing); not escaped */
    TBL_DROP = 1u << 3,   /* may be left out when shrinking is not enough (rightmost first) */
};

typedef struct table_col {
    const char *title; /* text header, e.g. "COST" */
    const char *csv;   /* CSV header, e.g. "cost_usd" */
    unsigned flags;
} table_col;

typedef struct table table;

/* A table printing to f in mode fmt (CLI_TEXT or CLI_CSV; CLI_JSON is not a
 * table mode and is treated as text). cols must outlive the table. NULL on ENOMEM. */
table *table_new(FILE *f, enum cli_fmt fmt, const table_col *cols, size_t ncols);
/* Add one cell; text spelling and CSV spelling (csv NULL = same as text). */
void table_cell2(table *t, const char *text, const char *csv);
void table_cell(table *t, const char *text);
void table_cellf(table *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Print what is buffered and free the table (NULL is fine). In text mode, a
 * table that left columns out ends with a line naming them and how to see
 * them ("(3 columns left out to fit 80 columns: FLAGS, USER, PROPERTIES; …)"). */
void table_end(table *t);

/* Terminal width for f: TIOCGWINSZ when f is a terminal, else $COLUMNS, else 0 (unlimited). */
int table_term_width(FILE *f);
/* Colour on f? Only when f is a terminal, NO_COLOR is unset or empty, and TERM is not "dumb". */
bool table_color(FILE *f);

/* Write one CSV field (RFC 4180 quoting) to f. */
void table_csv_field(FILE *f, const char *s);

/* Text around the tables ("Label       value   value" lines, titles) fitted
 * to the same terminal width: print into the stream table_text_begin()
 * returns (f itself when there is no width, e.g. a pipe without $COLUMNS, or
 * on ENOMEM), then table_text_end() writes it to f, every line wider than the
 * terminal broken at a space, preferably at a gap of 3 or more spaces between
 * two items, and continued under column `indent` (the value column; 2 when
 * indent is too large for the width). A word wider than a line is cut into
 * pieces. The text must be terminal-safe (escaped) and without colour
 * sequences; a column is one code point, as in the tables. */
typedef struct table_text {
    FILE *f, *mem;
    char *buf;
    size_t len;
    int term, indent;
} table_text;
FILE *table_text_begin(table_text *tt, FILE *f, int indent);
void table_text_end(table_text *tt);
/* The same for one printf-formatted piece of text (a title, a note). */
void table_textf(FILE *f, int indent, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
