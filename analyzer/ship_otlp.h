/* ship_otlp.h — `hc-analyze ship --to otlp://…`: records as OpenTelemetry
 * spans and GenAI metrics to an OTLP/HTTP collector (ship_otlp.c). */
#ifndef HC_ANA_SHIP_OTLP_H
#define HC_ANA_SHIP_OTLP_H

#include <stdbool.h>

/* True when a --to value names an OTLP destination: otlp://…, or an
 * http(s):// URL whose path ends in /v1/traces or /v1/metrics (https is then
 * refused with a message); anything else is ClickHouse's (cmd_ship.c). */
bool ship_otlp_wanted(const char *to);

/* The command, with ship's argv (argv[0] "ship"); returns the exit status
 * (0 sent, 1 the collector failed, 2 misuse or unreadable store). */
int ship_otlp(int argc, char **argv);

#endif
