/* cmds.h — the hc-analyze subcommands, one file each (cmd_<name>.c).
 *
 * Each takes the command's own argv (argv[0] is the command name) and returns
 * the process exit status (cli.h: 0 ok, 1 "no", 2 misuse / unreadable store).
 * Each is built on the skeleton in cli.h (cli_parse, cli_scan_run); ship and
 * cassette parse their options with cli_next() directly (ship refuses --csv
 * and --prices before they are applied; cassette reads cassette files, not a
 * store).
 */
#ifndef HC_ANA_CMDS_H
#define HC_ANA_CMDS_H

int cmd_requests(int argc, char **argv);
int cmd_show(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_users(int argc, char **argv);
int cmd_sessions(int argc, char **argv);
int cmd_audit(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_import(int argc, char **argv);
int cmd_merge(int argc, char **argv);
int cmd_prune(int argc, char **argv);
int cmd_compact(int argc, char **argv);
int cmd_stats(int argc, char **argv);
int cmd_prices(int argc, char **argv);
int cmd_reprice(int argc, char **argv);
int cmd_html(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_cache(int argc, char **argv);
int cmd_ratelimits(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_salvage(int argc, char **argv);
int cmd_ship(int argc, char **argv);
int cmd_cassette(int argc, char **argv);

#endif
