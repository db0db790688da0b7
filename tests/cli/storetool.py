#!/usr/bin/env python3
"""storetool.py: alters a node's LMDB store the way a tamperer or a bad disk
would, for the audit tests.  Uses only lmdb-utils (mdb_dump, mdb_load,
mdb_copy) and the file itself.

  storetool.py entries DIR DB
      prints each entry of database DB as "KEYHEX VALUEHEX", in order
  storetool.py flip DIR DB MATCH PART OFFSET BIT
      flips bit BIT of byte OFFSET (negative: from the end) of the key or
      the value (PART) of the first entry of DB whose key hex contains
      MATCH ("" for the first entry), and rewrites the store with it, so
      the altered entry sits where its new key sorts, as LMDB would keep
      it; prints the old and the new key
  storetool.py compact DIR
      rewrites DIR/data.mdb as a compacted copy (no free pages, so every
      page past the two meta pages is in use)
  storetool.py rewrite DIR
      rewrites the store through mdb_dump and mdb_load, changing nothing
  storetool.py pages DIR
      prints one line per page of DIR/data.mdb: its number and its kind
      (meta, branch, leaf, overflow, or other), from its header flags;
      the pages an overflow page's run covers are "overflow-data"
  storetool.py flipbit DIR OFFSET BIT
      flips bit BIT of byte OFFSET of DIR/data.mdb in place
  storetool.py find DIR HEX
      prints the offsets in DIR/data.mdb where the bytes HEX occur
  storetool.py content DIR
      prints a hash of what every database holds except the local ones
      (peers, invites, members, lastseen, meta) and the received times before the
      commits (which audit checks only for plausibility), or "unreadable"
      when mdb_dump cannot read the store to its end
  storetool.py damage DIR PAGE HOW [SEED]
      overwrites page PAGE of DIR/data.mdb: HOW is zero (all zero bytes),
      ones (all 0xff), random (bytes from SEED), header (random bytes over
      the page header and its first pointers only)
"""
import hashlib
import os
import random
import shutil
import subprocess
import sys
import tempfile


def dump(d):
    """Returns [(name, header_lines, [(key, value)])] for every database."""
    out = subprocess.run(["mdb_dump", "-a", d], check=True,
                         capture_output=True, text=True).stdout.splitlines()
    dbs = []
    i = 0
    while i < len(out):
        hdr = []
        while out[i] != "HEADER=END":
            hdr.append(out[i])
            i += 1
        i += 1
        name = [h.split("=", 1)[1] for h in hdr if h.startswith("database=")]
        ents = []
        while out[i] != "DATA=END":
            ents.append([bytes.fromhex(out[i].strip()),
                         bytes.fromhex(out[i + 1].strip())])
            i += 2
        i += 1
        dbs.append((name[0] if name else "", hdr, ents))
    return dbs


def load(d, dbs):
    """Writes dbs as a fresh store in place of d's data.mdb."""
    tmp = tempfile.mkdtemp(dir=d)
    try:
        text = []
        for name, hdr, ents in dbs:
            # mdb_load reads every header line mdb_dump writes but this.
            text.extend(h for h in hdr if not h.startswith("db_pagesize="))
            text.append("HEADER=END")
            for k, v in sorted(ents, key=lambda e: e[0]):
                text.append(" " + k.hex())
                text.append(" " + v.hex())
            text.append("DATA=END")
        subprocess.run(["mdb_load", tmp], check=True,
                       input="\n".join(text) + "\n", text=True)
        shutil.copyfile(os.path.join(tmp, "data.mdb"),
                        os.path.join(d, "data.mdb"))
        lock = os.path.join(d, "lock.mdb")
        if os.path.exists(lock):
            os.unlink(lock)
    finally:
        shutil.rmtree(tmp)


def page_size(d):
    st = subprocess.run(["mdb_stat", "-e", d], check=True,
                        capture_output=True, text=True).stdout
    return int([l for l in st.splitlines()
                if "Page size" in l][0].split(":")[1])


def db_named(dbs, name):
    for db in dbs:
        if db[0] == name:
            return db
    sys.exit("storetool: no database %s" % name)


def main(argv):
    if len(argv) < 3:
        sys.exit(__doc__)
    cmd, d = argv[1], argv[2]
    if cmd == "entries":
        for k, v in db_named(dump(d), argv[3])[2]:
            print(k.hex(), v.hex())
    elif cmd == "flip":
        dbname, match, part = argv[3], argv[4], argv[5]
        off, bit = int(argv[6]), int(argv[7])
        dbs = dump(d)
        ents = db_named(dbs, dbname)[2]
        for e in ents:
            if match in e[0].hex():
                break
        else:
            sys.exit("storetool: no entry of %s matches %s" % (dbname, match))
        old = e[0].hex()
        which = 0 if part == "key" else 1
        b = bytearray(e[which])
        if not b:
            sys.exit("storetool: the %s is empty" % part)
        b[off] ^= 1 << bit
        e[which] = bytes(b)
        load(d, dbs)
        print(old, e[0].hex())
    elif cmd == "rewrite":
        load(d, dump(d))
    elif cmd == "compact":
        tmp = tempfile.mkdtemp(dir=d)
        try:
            subprocess.run(["mdb_copy", "-c", d, tmp], check=True)
            shutil.copyfile(os.path.join(tmp, "data.mdb"),
                            os.path.join(d, "data.mdb"))
            lock = os.path.join(d, "lock.mdb")
            if os.path.exists(lock):
                os.unlink(lock)
        finally:
            shutil.rmtree(tmp)
    elif cmd == "pages":
        psize = page_size(d)
        with open(os.path.join(d, "data.mdb"), "rb") as f:
            data = f.read()
        n = len(data) // psize
        p = 0
        while p < n:
            hdr = data[p * psize:p * psize + 16]
            flags = int.from_bytes(hdr[10:12], "little")
            run = 1
            if flags & 0x08:
                kind = "meta"
            elif flags & 0x04:
                kind = "overflow"
                run = max(1, int.from_bytes(hdr[12:16], "little"))
            elif flags & 0x01:
                kind = "branch"
            elif flags & 0x02:
                kind = "leaf"
            else:
                kind = "other"
            print(p, kind)
            for q in range(p + 1, min(p + run, n)):
                print(q, "overflow-data")
            p += run
    elif cmd == "flipbit":
        off, bit = int(argv[3]), int(argv[4])
        with open(os.path.join(d, "data.mdb"), "r+b") as f:
            f.seek(off)
            b = f.read(1)
            f.seek(off)
            f.write(bytes([b[0] ^ (1 << bit)]))
        lock = os.path.join(d, "lock.mdb")
        if os.path.exists(lock):
            os.unlink(lock)
    elif cmd == "find":
        with open(os.path.join(d, "data.mdb"), "rb") as f:
            data = f.read()
        pat = bytes.fromhex(argv[3])
        i = data.find(pat)
        while i >= 0:
            print(i)
            i = data.find(pat, i + 1)
    elif cmd == "content":
        r = subprocess.run(["mdb_dump", "-a", d], capture_output=True)
        if r.returncode != 0:
            print("unreadable")
            return
        h = hashlib.sha256()
        keep = False
        db = b""
        nth = 0
        for line in r.stdout.split(b"\n"):
            if line.startswith(b"database="):
                db = line[9:]
                keep = db not in (b"peers", b"invites", b"members", b"meta",
                                  b"lastseen")
                nth = 0
                h.update(line + b"\n")
            elif keep and line.startswith(b" "):
                # Lines alternate key, value; a commit's value starts
                # with its received time (8 bytes, 16 hex digits).
                if db == b"commits" and nth % 2 == 1:
                    line = line[:1] + line[17:]
                nth += 1
                h.update(line + b"\n")
        print(h.hexdigest())
    elif cmd == "damage":
        page, how = int(argv[3]), argv[4]
        rnd = random.Random(int(argv[5]) if len(argv) > 5 else 1)
        path = os.path.join(d, "data.mdb")
        psize = page_size(d)
        with open(path, "r+b") as f:
            f.seek(page * psize)
            cur = bytearray(f.read(psize))
            if how == "zero":
                new = bytes(psize)
            elif how == "ones":
                new = b"\xff" * psize
            elif how == "random":
                new = bytes(rnd.getrandbits(8) for _ in range(psize))
            elif how == "header":
                cur[0:24] = bytes(rnd.getrandbits(8) for _ in range(24))
                new = bytes(cur)
            else:
                sys.exit("storetool: unknown damage %s" % how)
            f.seek(page * psize)
            f.write(new)
        lock = os.path.join(d, "lock.mdb")
        if os.path.exists(lock):
            os.unlink(lock)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
