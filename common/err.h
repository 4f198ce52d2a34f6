/* err.h — the one error table of hcshim.
 *
 * Every function that can fail returns int: 0 (HC_OK) on success, one of the
 * negative HC_E* codes below on failure. hc_strerror() turns a code into a short
 * static English string. Incremental parsers are the exception: they follow the
 * picohttpparser protocol (bytes consumed >= 0, HC_PARTIAL when more input is
 * needed, HC_EPARSE on malformed input); see http.h.
 */
#ifndef HC_ERR_H
#define HC_ERR_H

enum hc_err {
    HC_OK = 0,
    HC_EPARSE = -1,     /* malformed input (also the parsers' "bad") */
    HC_PARTIAL = -2,    /* parsers: need more bytes */
    HC_ENOMEM = -3,     /* allocation failed */
    HC_EINVAL = -4,     /* invalid argument or configuration value */
    HC_EIO = -5,        /* read/write on a socket or file failed */
    HC_ECLOSED = -6,    /* peer closed the connection */
    HC_ETIMEDOUT = -7,  /* a deadline passed */
    HC_ECONNECT = -8,   /* could not connect to the upstream */
    HC_ETLS = -9,       /* TLS handshake or certificate verification failed */
    HC_ETOOBIG = -10,   /* input exceeds a configured bound */
    HC_ENOTFOUND = -11, /* no such key / record / name */
    HC_ESTORE = -12,    /* the LMDB store failed (see log for the mdb error) */
    HC_ESCHEMA = -13,   /* store or record written by a newer schema */
    HC_EFULL = -14,     /* queue or store full; the item was dropped */
    HC_EDISABLED = -15, /* the subsystem is disabled (failed open earlier) */
    HC_ECANCELED = -16, /* the client went away while we waited */
    HC_EBUSY = -17,     /* another process holds what we need exclusively */
};

/* Returns a static, never-NULL description of err (any int is accepted). Thread-safe. */
const char *hc_strerror(int err);

#endif
