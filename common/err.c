#include "err.h"

const char *hc_strerror(int err)
{
    switch (err) {
    case HC_OK: return "success";
    case HC_EPARSE: return "malformed input";
    case HC_PARTIAL: return "incomplete input";
    case HC_ENOMEM: return "out of memory";
    case HC_EINVAL: return "invalid argument";
    case HC_EIO: return "I/O error";
    case HC_ECLOSED: return "connection closed by peer";
    case HC_ETIMEDOUT: return "timed out";
    case HC_ECONNECT: return "connection failed";
    case HC_ETLS: return "TLS failure";
    case HC_ETOOBIG: return "too large";
    case HC_ENOTFOUND: return "not found";
    case HC_ESTORE: return "store error";
    case HC_ESCHEMA: return "unsupported schema version";
    case HC_EFULL: return "full";
    case HC_EDISABLED: return "disabled";
    case HC_ECANCELED: return "canceled";
    case HC_EBUSY: return "in use";
    }
    return "unknown error";
}
