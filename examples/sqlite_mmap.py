#!/usr/bin/env python3
"""SQLite in mmap mode, for `mmviz exec --file DB -- python3 examples/sqlite_mmap.py ...`.

Python's built-in sqlite3 module only; nothing to install.

  python3 examples/sqlite_mmap.py create DB [--rows N]       make a database (not observed)
  python3 examples/sqlite_mmap.py lookups DB [--count K]     K point lookups by primary key
  python3 examples/sqlite_mmap.py scan DB                    a full table scan

`PRAGMA mmap_size` makes SQLite read the database through a shared read-only mapping of the
file instead of read() calls, so its page-table presence shows in /proc/PID/pagemap: a B-tree
point lookup touches a root-to-leaf path of a few pages, a full scan touches every leaf.

--hold S keeps the connection (and so the mapping) open S seconds after the queries: mmviz
reads the page table while the program runs (it is gone once the program exits), so this
lets the last sample see what the queries mapped.
"""

import argparse
import os
import random
import sqlite3
import sys
import time


def create(db, rows, seed):
    if os.path.exists(db):
        os.unlink(db)
    rnd = random.Random(seed)
    con = sqlite3.connect(db)
    con.execute("PRAGMA page_size = 4096")
    con.execute("PRAGMA journal_mode = DELETE")
    con.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT, body BLOB)")
    batch = []
    for i in range(1, rows + 1):
        batch.append((i, "item-%d" % i, rnd.randbytes(200)))
        if len(batch) == 5000:
            con.executemany("INSERT INTO items VALUES (?, ?, ?)", batch)
            batch.clear()
    con.executemany("INSERT INTO items VALUES (?, ?, ?)", batch)
    con.commit()
    con.close()
    # Written back, so the page cache can be evicted before a cold run (mmviz evict DB).
    fd = os.open(db, os.O_RDONLY)
    os.fsync(fd)
    os.close(fd)
    print("created %s: %d rows, %d bytes" % (db, rows, os.path.getsize(db)))


def open_mmap(db):
    # Read-only URI: the queries never write the database.
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
    size = os.path.getsize(db)
    con.execute("PRAGMA mmap_size = %d" % (size + (1 << 20)))
    got = con.execute("PRAGMA mmap_size").fetchone()[0]
    if got < size:
        sys.exit("sqlite3 here caps mmap_size at %d (< %d): not fully mapped" % (got, size))
    return con


def lookups(db, count, seed, hold):
    con = open_mmap(db)
    rows = con.execute("SELECT max(id) FROM items").fetchone()[0]
    rnd = random.Random(seed)
    found = 0
    for _ in range(count):
        key = rnd.randint(1, rows)
        r = con.execute("SELECT length(body) FROM items WHERE id = ?", (key,)).fetchone()
        found += r is not None
    print("lookups: %d of %d found" % (found, count), flush=True)
    time.sleep(hold)
    con.close()


def scan(db, hold):
    con = open_mmap(db)
    n, total = con.execute("SELECT count(*), sum(length(body)) FROM items").fetchone()
    print("scan: %d rows, %d body bytes" % (n, total), flush=True)
    time.sleep(hold)
    con.close()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("mode", choices=["create", "lookups", "scan"])
    p.add_argument("db")
    p.add_argument("--rows", type=int, default=60000)
    p.add_argument("--count", type=int, default=20)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--hold", type=float, default=0.3)
    a = p.parse_args()
    if a.mode == "create":
        create(a.db, a.rows, a.seed)
    elif a.mode == "lookups":
        lookups(a.db, a.count, a.seed, a.hold)
    else:
        scan(a.db, a.hold)


if __name__ == "__main__":
    main()
