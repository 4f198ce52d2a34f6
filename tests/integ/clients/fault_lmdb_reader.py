"""A reader of the store that stops inside its read transaction.

argv: STORE_DIR [list]
Opens the store read-only with the system liblmdb (through ctypes, the way
any LMDB reader — hc-analyze, or the shim doing a cache or budget lookup —
does), begins a read transaction, prints "holding TXNID" and sleeps until
killed. Killing it with SIGKILL leaves what any reader killed mid-read
leaves: a reader slot whose process is gone.

With "list": prints the reader table instead (mdb_reader_list), as a JSON
list of [pid, txnid] (txnid -1: slot held, no transaction), and exits.
"""
import json
import ctypes
import sys
import time

MDB_RDONLY = 0x20000
MDB_NOTLS = 0x200000

lib = ctypes.CDLL("liblmdb.so.0")
env = ctypes.c_void_p()
txn = ctypes.c_void_p()
lib.mdb_strerror.restype = ctypes.c_char_p


def check(rc, what):
    if rc != 0:
        print("error %s: %s" % (what, lib.mdb_strerror(rc).decode()), flush=True)
        sys.exit(1)


check(lib.mdb_env_create(ctypes.byref(env)), "mdb_env_create")
check(lib.mdb_env_set_maxdbs(env, 16), "mdb_env_set_maxdbs")
check(lib.mdb_env_set_maxreaders(env, 1024), "mdb_env_set_maxreaders")
check(lib.mdb_env_open(env, sys.argv[1].encode(), MDB_RDONLY | MDB_NOTLS, 0o600), "mdb_env_open")
if len(sys.argv) > 2 and sys.argv[2] == "list":
    rows = []
    MSG = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_char_p, ctypes.c_void_p)

    def collect(msg, ctx):
        f = msg.decode().split()
        if len(f) == 3 and f[0].isdigit():
            rows.append([int(f[0]), int(f[2]) if f[2].isdigit() else -1])
        return 0

    cb = MSG(collect)
    lib.mdb_reader_list(env, cb, None)
    print(json.dumps(rows), flush=True)
    sys.exit(0)
check(lib.mdb_txn_begin(env, None, MDB_RDONLY, ctypes.byref(txn)), "mdb_txn_begin")
lib.mdb_txn_id.restype = ctypes.c_size_t
print("holding %d" % lib.mdb_txn_id(txn), flush=True)
while True:
    time.sleep(60)
