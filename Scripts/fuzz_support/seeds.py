"""Seed corpora for Scripts/fuzz, cut from a FileStorage (the Zope fixture).

    seeds.py DATA_FS OUTPUT_DIR

writes OUTPUT_DIR/{pickle,filestorage,index,dat}/: record pickles of every
class in the store, small stores made of its first transactions (alone, and
with their Data.fs.index after the separator FileStorageFuzzTarget splits
on), those index files alone, and repozo .dat files. Only the standard
library: the layouts are ZODB's FileStorage/format.py and fsIndex.save.
"""
import hashlib
import os
import struct
import sys

TXN_HEADER = struct.Struct(">8sQcHHH")  # 23 bytes
DATA_HEADER = struct.Struct(">8s8sQQHQ")  # 42 bytes
INDEX_SEPARATOR = b"\n--Data.fs.index--\n"


def transactions(data):
    """(position, header, records) of each transaction; records are
    (position, oid, prev, plen, pickle-or-backpointer)."""
    pos = 4
    while pos + TXN_HEADER.size <= len(data):
        tid, tlen, status, ulen, dlen, elen = TXN_HEADER.unpack_from(data, pos)
        end = pos + tlen
        if end + 8 > len(data):
            return
        records = []
        rpos = pos + TXN_HEADER.size + ulen + dlen + elen
        while rpos < end:
            oid, _serial, prev, _tloc, _vlen, plen = DATA_HEADER.unpack_from(data, rpos)
            body = data[rpos + 42: rpos + 42 + (plen or 8)]
            records.append((rpos, oid, prev, plen, body))
            rpos += 42 + (plen or 8)
        yield pos, (tid, tlen, status, ulen, dlen, elen), records
        pos = end + 8


def class_of(pickle):
    """The GLOBAL of a class pickle, enough to tell record kinds apart."""
    at = pickle.find(b"c")
    if at < 0 or at > 4:
        return pickle[:8]
    return pickle[at: pickle.find(b"\n", pickle.find(b"\n", at) + 1)]


def pickle_seeds(data, limit=8192, per_class=6):
    seen = {}
    for _, _, records in transactions(data):
        for _, _, _, plen, body in records:
            if plen == 0 or plen > limit:
                continue
            kind = class_of(body)
            bucket = seen.setdefault(kind, [])
            if len(bucket) < per_class and body not in bucket:
                bucket.append(body)
    return [body for bodies in seen.values() for body in bodies]


def index_file(position, index):
    """fsIndex.save(position, path) for `index` (oid -> position): protocol 3, fast mode."""
    def integer(value):
        if value < 256:
            return b"K" + bytes([value])
        if value < 65536:
            return b"M" + struct.pack("<H", value)
        if value < 2 ** 31:
            return b"J" + struct.pack("<i", value)
        raw = value.to_bytes((value.bit_length() + 8) // 8, "little")
        return b"\x8a" + bytes([len(raw)]) + raw

    def bytes_value(raw):
        if len(raw) < 256:
            return b"C" + bytes([len(raw)]) + raw
        return b"B" + struct.pack("<I", len(raw)) + raw

    out = [b"\x80\x03" + integer(position) + b"."]
    prefixes = {}
    for oid, pos in index.items():
        prefixes.setdefault(oid[:6], []).append((oid[6:], pos))
    for prefix in sorted(prefixes):
        items = sorted(prefixes[prefix])
        bucket = b"".join(s for s, _ in items) + b"".join(p.to_bytes(6, "big") for _, p in items)
        out.append(b"\x80\x03" + bytes_value(prefix) + bytes_value(bucket) + b"\x86.")
    out.append(b"\x80\x03N.")
    return b"".join(out)


def store_prefixes(data, limit):
    """(store, index) for the first 1, 2, 3, 5, 8, … transactions, while under `limit` bytes."""
    ends = []
    index = {}
    indexes = []
    for pos, header, records in transactions(data):
        for rpos, oid, _, _, _ in records:
            index[oid] = rpos
        end = pos + header[1] + 8
        if end > limit:
            break
        ends.append(end)
        indexes.append(dict(index))
    wanted, a, b = [], 1, 2
    while a <= len(ends):
        wanted.append(a)
        a, b = b, a + b
    if ends and len(ends) not in wanted:
        wanted.append(len(ends))
    return [(data[: ends[n - 1]], index_file(ends[n - 1], indexes[n - 1])) for n in wanted]


def relocated(data, chosen, record_limit):
    """A store of the chosen transactions, in order, each keeping only records
    whose pickle is at most `record_limit` bytes, with tloc, prev and
    backpointers rewritten for their new positions (a backpointer to a record
    left out becomes 0: the object reads as deleted)."""
    out = bytearray(data[:4])
    moved = {}
    last = {}
    index = {}
    for pos, header, records in chosen:
        tid, _, status, ulen, dlen, elen = header
        meta = data[pos + TXN_HEADER.size: pos + TXN_HEADER.size + ulen + dlen + elen]
        body = bytearray()
        start = len(out)
        for rpos, oid, _, plen, payload in records:
            if plen > record_limit:
                continue
            at = start + TXN_HEADER.size + len(meta) + len(body)
            if plen == 0:
                back = struct.unpack(">Q", payload)[0]
                payload = struct.pack(">Q", moved.get(back, 0))
            body += DATA_HEADER.pack(oid, tid, last.get(oid, 0), start, 0, plen) + payload
            moved[rpos] = at
            last[oid] = at
            index[oid] = at
        tlen = TXN_HEADER.size + len(meta) + len(body)
        out += TXN_HEADER.pack(tid, tlen, status, ulen, dlen, elen) + meta + body + struct.pack(">Q", tlen)
    return bytes(out), index_file(len(out), index)


def relocated_stores(data, limit):
    """The first transactions (root, Application) followed by one later
    transaction each, cut down to its small records."""
    txns = list(transactions(data))
    setup = txns[:3]
    stores = []
    for txn in txns[3:]:
        store, index = relocated(data, setup + [txn], record_limit=4096)
        if len(store) <= limit and store not in (s for s, _ in stores):
            stores.append((store, index))
    return stores


def dat_seeds():
    md5_empty = hashlib.md5(b"").hexdigest()
    md5_a = hashlib.md5(b"a").hexdigest()
    repo = "/srv/backups/"
    return [
        f"{repo}2026-01-01-00-00-00.fs 0 0 {md5_empty}\n".encode(),
        f"{repo}2026-01-01-00-00-00.fs 0 4096 {md5_a}\n{repo}2026-01-02-03-04-05.deltafs 4096 8192 {md5_a}\n".encode(),
        f"{repo}2026-01-01-00-00-00.fsz 0 100 {md5_a}\n\n{repo}2026-01-01-00-00-01.deltafsz 100 250 {md5_a}\r\n".encode(),
        f"repo with spaces/2026-01-01-00-00-00.fs\t0\t7\t{md5_a}\n".encode(),
    ]


def write(folder, name, content):
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), "wb") as f:
        f.write(content)


def main():
    source, output = sys.argv[1], sys.argv[2]
    with open(source, "rb") as f:
        data = f.read()
    for n, body in enumerate(pickle_seeds(data)):
        write(os.path.join(output, "pickle"), f"record-{n:03d}", body)
    stores = store_prefixes(data, limit=32768) + relocated_stores(data, limit=32768)
    for n, (store, index) in enumerate(stores):
        write(os.path.join(output, "filestorage"), f"store-{n:02d}", store)
        write(os.path.join(output, "filestorage"), f"store-{n:02d}-with-index", store + INDEX_SEPARATOR + index)
        write(os.path.join(output, "index"), f"index-{n:02d}", index)
    for n, dat in enumerate(dat_seeds()):
        write(os.path.join(output, "dat"), f"dat-{n:02d}", dat)


if __name__ == "__main__":
    main()
