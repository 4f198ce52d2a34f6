/* test_buf.c — common/buf.c: appends, and the sticky error of a failed one. */
#include "buf.h"
#include "err.h"
#include "t.h"

#include <stdint.h>
#include <stdlib.h>

/* An append that cannot succeed (more than the address space): the
 * allocation-failure path, without making malloc fail. */
static int impossible(hc_buf *b)
{
    return hc_buf_append(b, "x", SIZE_MAX);
}

int main(void)
{
    hc_buf b = HC_BUF_INIT;
    T_EQ_INT(hc_buf_puts(&b, "GET / HTTP/1.1\r\n"), 0, "append ok");
    T_EQ_INT(hc_buf_printf(&b, "Host: %s\r\n", "example.com"), 0, "printf ok");
    T_EQ_INT(hc_buf_error(&b), 0, "no error after good appends");

    /* A failed append marks the buffer; every later append is refused, so a
     * head cannot go out with its middle line missing. */
    size_t len = b.len;
    T_EQ_INT(impossible(&b), HC_ENOMEM, "impossible append fails");
    T_EQ_INT(hc_buf_error(&b), HC_ENOMEM, "the failure is remembered");
    T_EQ_INT(b.len, len, "the bytes are unchanged");
    T_EQ_INT(hc_buf_puts(&b, "Accept: */*\r\n"), HC_ENOMEM, "a later puts is refused");
    T_EQ_INT(hc_buf_printf(&b, "%d", 42), HC_ENOMEM, "a later printf is refused");
    T_EQ_INT(hc_buf_append(&b, "", 0), HC_ENOMEM, "even an empty append reports it");
    T_EQ_INT(b.len, len, "nothing was added after the failure");

    /* It travels: a failed piece appended into another buffer fails that one. */
    hc_buf whole = HC_BUF_INIT;
    hc_buf_puts(&whole, "HTTP/1.1 200 OK\r\n");
    T_EQ_INT(hc_buf_append_buf(&whole, &b), HC_ENOMEM, "append_buf passes the error on");
    T_EQ_INT(hc_buf_error(&whole), HC_ENOMEM, "the whole is marked failed");
    hc_buf good = HC_BUF_INIT;
    hc_buf_puts(&good, "abc");
    hc_buf ok = HC_BUF_INIT;
    T_EQ_INT(hc_buf_append_buf(&ok, &good), 0, "append_buf of a good buffer");
    T_EQ_STR(ok.data, "abc", "append_buf copies the bytes");

    /* Detach never hands out an incomplete text. */
    size_t dl = 99;
    T_CHECK(hc_buf_detach(&whole, &dl) == NULL, "detach of a failed buffer is NULL");
    T_EQ_INT(dl, 0, "... with length 0");
    T_EQ_INT(hc_buf_error(&whole), 0, "... and the buffer is empty again");

    /* consume keeps the mark; reset and free clear it. */
    hc_buf_consume(&b, 1);
    T_EQ_INT(hc_buf_error(&b), HC_ENOMEM, "consume keeps the mark");
    hc_buf_reset(&b);
    T_EQ_INT(hc_buf_error(&b), 0, "reset clears the mark");
    T_EQ_INT(hc_buf_puts(&b, "again"), 0, "appends work after reset");
    T_EQ_STR(b.data, "again", "new content");
    impossible(&b);
    hc_buf_free(&b);
    T_EQ_INT(hc_buf_error(&b), 0, "free clears the mark");

    /* append_capped after a failure drops everything (the capture flags a cut). */
    hc_buf cap = HC_BUF_INIT;
    impossible(&cap);
    T_EQ_INT(hc_buf_append_capped(&cap, "abcdef", 6, 100), 6,
             "capped append on a failed buffer drops all");
    T_EQ_INT(hc_buf_reserve(&cap, 1), HC_ENOMEM, "reserve reports the mark");

    char *p = hc_buf_detach(&ok, &dl);
    T_EQ_STR(p, "abc", "detach of a good buffer");
    free(p);
    hc_buf_free(&good);
    hc_buf_free(&cap);
    return t_done();
}
