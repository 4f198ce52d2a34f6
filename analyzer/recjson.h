/* recjson.h — one record as a JSON object, and back.
 *
 * The JSON form is what `export --format jsonl`, `requests --json` and
 * `show --json` print and what `import` reads. Keys are the field names of
 * record.h, plus:
 *   "id"    the record id, 36-char UUID text
 *   "time"  start_us as RFC 3339 UTC (informational; ignored by import)
 *   "props", "ratelimit"  objects {name: value} in stored order (a repeated
 *           name is written twice, which JSON parsers keep in order)
 * Every field is written, defaults included, so the object is self-describing.
 * Integers are exact. With bodies (export --bodies, show --json):
 *   "request_body", "response_body"           the decoded body text (or null)
 *   "request_truncated", "response_truncated" true when cut at the capture bound
 *
 * Thread-safe (no state).
 */
#ifndef HC_ANA_RECJSON_H
#define HC_ANA_RECJSON_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "buf.h"
#include "jsonw.h"
#include "record.h"

/* Write r's fields as key/value pairs into the object currently open in w
 * (the caller writes jw_obj()/jw_obj_end() around it, so it can add keys). */
void recjson_fields(jw *w, const hc_record *r);

/* Fill r from a parsed object. Strings in r point into obj (valid while obj
 * lives); props goes into the first caller buffer, ratelimit and req_params
 * one after the other into the second (both reset
 * first). Missing keys keep their defaults. The id is required.
 * 0, or HC_EINVAL with a reason in err ("\"id\": expected a UUID"). */
int recjson_read(const cJSON *obj, hc_record *r, hc_buf *props, hc_buf *ratelimit, char *err,
                 size_t errlen);

#endif
