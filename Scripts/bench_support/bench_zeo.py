#!/usr/bin/env python3
"""ZEO mount benchmark: zodbfs mounted through a ZEO server, next to a
Python ZEO client reading the same objects and to zodbfs mounted on the
same Data.fs directly, measured in one run.

Run through ``Scripts/bench_zeo`` (packages, venv, release build first).
Needs root (drops the page cache, mounts through /dev/fuse).  Uses the
read benchmark's fixture (var/bench/fixture, built on first use).

Every client starts fresh (a new mount, a new ``ZEO.DB``: no object
cache). The clients are compared with Data.fs in the page cache, the
steady state of a busy ZEO server, so the figures are the clients' own;
one more run of each big-file read with the page cache dropped first shows
what a cold server disk costs everyone (Zope lays a chain out back to
front, so the server then reads Data.fs backwards, 64 KiB at a time).
- big file: sequential read of the fixture's largest File (640 MiB) —
  `dd bs=1M` through the ZEO mount and through the local mount; the Python
  peer walks the Pdata chain through `ZEO.DB` as `File.index_html` does.
- small files: 1,000 Files of the BTreeFolder2 read whole — one `cat` of
  all of them through each mount; the Python peer reads their `data`.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from bench import (MB, VENV_PYTHON, ZODBFS, Row, ZodbfsMount, dd_read,  # noqa: E402
                   drop_caches, ensure_fixture, fmt_mbps, fmt_s, log,
                   machine_info, stop_process, table, tail)

RUNZEO = os.path.join(os.path.dirname(VENV_PYTHON), 'runzeo')
SMALL_FILES = 1000

PEER = r'''
import sys, time, json
import ZEO
address, big, folder, names = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
def app():
    db = ZEO.DB(address, read_only=True)
    return db, db.open().root()['Application']
def walk(obj, path):
    for part in path.split('/'):
        obj = obj[part]
    return obj
what = sys.stdin.readline().strip()
db, root = app()
t0 = time.perf_counter()
total = 0
if what == 'big':
    data = walk(root, big).data
    while data is not None:
        total += len(data.data)
        data = data.next
else:
    parent = walk(root, folder)
    for name in names:
        data = parent[name].data
        if isinstance(data, bytes):
            total += len(data)
        else:
            while data is not None:
                total += len(data.data)
                data = data.next
seconds = time.perf_counter() - t0
db.close()
print(json.dumps({'seconds': seconds, 'bytes': total}))
'''


class ZEOServer:
    def __init__(self, workdir, datafs):
        self.socket = os.path.join(workdir, 'zeo.sock')
        self.conf = os.path.join(workdir, 'zeo.conf')
        self.log = os.path.join(workdir, 'zeo.log')
        with open(self.conf, 'w') as f:
            f.write('<zeo>\n  address %s\n  read-only true\n</zeo>\n'
                    '<filestorage 1>\n  path %s\n  read-only true\n</filestorage>\n'
                    % (self.socket, datafs))
        self.proc = None

    def start(self):
        with open(self.log, 'a') as logf:
            self.proc = subprocess.Popen([RUNZEO, '-C', self.conf], stdin=subprocess.DEVNULL,
                                         stdout=logf, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.time() + 120
        while not os.path.exists(self.socket):
            if self.proc.poll() is not None or time.time() > deadline:
                raise RuntimeError('runzeo did not start: %s' % tail(self.log))
            time.sleep(0.05)

    def stop(self):
        if self.proc is not None:
            stop_process(self.proc)
            self.proc = None


class ZEOMount(ZodbfsMount):
    """A read-only zodbfs mount through the server (``store`` is its socket)."""

    def command(self):
        return [ZODBFS, 'mount', '--zeo', self.store, self.mountpoint, '--read-only', '-f']


def cpu_seconds(pid):
    """User + system CPU seconds a process has used so far (/proc/PID/stat)."""
    with open('/proc/%d/stat' % pid) as f:
        fields = f.read().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')


def cat_all(paths):
    """Seconds for one `cat` of every path to /dev/null, and the bytes read."""
    t0 = time.perf_counter()
    r = subprocess.run(['cat'] + paths, stdout=subprocess.PIPE, check=True)
    return time.perf_counter() - t0, len(r.stdout)


def python_peer(server, fx, what, names, cold=False):
    p = subprocess.Popen([VENV_PYTHON, '-c', PEER, server.socket, fx.big_path, fx.btree] + names,
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    if cold:
        drop_caches()
    out, _ = p.communicate(what + '\n', timeout=1800)
    if p.returncode != 0:
        raise RuntimeError('the Python ZEO peer failed')
    import json
    return json.loads(out)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--runs', type=int, default=3)
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit('bench_zeo: run as root (it drops the page cache and mounts)')
    fx = ensure_fixture(False)
    small = sorted(e['path'] for e in fx.manifest['entries']
                   if e['path'].startswith(fx.btree + '/') and e.get('kind') == 'file'
                   and e['path'].count('/') == fx.btree.count('/') + 1)[:SMALL_FILES]
    small_bytes = sum(e['size'] for e in fx.manifest['entries'] if e['path'] in set(small))
    names = [p.rsplit('/', 1)[1] for p in small]
    workdir = tempfile.mkdtemp(prefix='zodbfs-bench-zeo-')
    server = ZEOServer(workdir, fx.datafs)
    zmp, lmp = os.path.join(workdir, 'zeo'), os.path.join(workdir, 'local')
    os.makedirs(zmp)
    os.makedirs(lmp)
    zeo_mount = ZEOMount(server.socket, zmp, os.path.join(workdir, 'zeo-mount.log'))
    local = ZodbfsMount(fx.datafs, lmp, os.path.join(workdir, 'local-mount.log'))
    samples = []
    try:
        log('warming the disk (Data.fs read once, unmeasured)')
        dd_read(fx.datafs)
        server.start()
        for i in range(args.runs):
            log('run %d of %d' % (i + 1, args.runs))
            s = {}
            for cold in (False, True):
                suffix = '_cold' if cold else ''
                dd_read(fx.datafs)
                before = cpu_seconds(server.proc.pid)
                r = python_peer(server, fx, 'big', [], cold=cold)
                assert r['bytes'] == fx.big_size, r
                s['py_big' + suffix] = r['bytes'] / r['seconds'] / MB
                if not cold:
                    s['server_busy_py'] = (cpu_seconds(server.proc.pid) - before) / r['seconds']
                for key, mount in (('zeo', zeo_mount), ('local', local)):
                    mount.fresh()
                    dd_read(fx.datafs)
                    if cold:
                        drop_caches()
                    before = (cpu_seconds(server.proc.pid), cpu_seconds(mount.pid))
                    nbytes, seconds = dd_read(mount.path(fx.big_path))
                    assert nbytes == fx.big_size, (key, nbytes)
                    s[key + '_big' + suffix] = nbytes / seconds / MB
                    if key == 'zeo' and not cold:
                        s['server_busy'] = (cpu_seconds(server.proc.pid) - before[0]) / seconds
                        s['client_busy'] = (cpu_seconds(mount.pid) - before[1]) / seconds
            dd_read(fx.datafs)
            r = python_peer(server, fx, 'small', names)
            assert r['bytes'] == small_bytes, (r, small_bytes)
            s['py_small'] = r['seconds']
            for key, mount in (('zeo', zeo_mount), ('local', local)):
                mount.fresh()
                seconds, nbytes = cat_all([mount.path(p) for p in small])
                assert nbytes == small_bytes, (key, nbytes, small_bytes)
                s[key + '_small'] = seconds
            samples.append(s)
            log('  %s' % ', '.join('%s %.3g' % kv for kv in sorted(s.items())))
    finally:
        zeo_mount.unmount()
        local.unmount()
        server.stop()

    def med(key):
        return statistics.median(x[key] for x in samples)

    rows = [
        Row('big file through the ZEO mount', med('zeo_big'), 'Python ZEO client', med('py_big'), fmt_mbps,
            target='≥ 5× Python', check=lambda ours, ratio: ratio >= 5),
        Row('big file through the ZEO mount', med('zeo_big'), 'local FileStorage mount', med('local_big'), fmt_mbps),
        Row('big file, server disk cold', med('zeo_big_cold'), 'Python ZEO client', med('py_big_cold'), fmt_mbps),
        Row('big file, server disk cold', med('zeo_big_cold'), 'local FileStorage mount', med('local_big_cold'), fmt_mbps),
        Row('%d small files, ZEO mount' % len(small), med('zeo_small'), 'local FileStorage mount', med('local_small'),
            fmt_s, target='≤ 3× local', check=lambda ours, ratio: ratio <= 3),
        Row('%d small files, ZEO mount' % len(small), med('zeo_small'), 'Python ZEO client', med('py_small'), fmt_s),
    ]
    print(machine_info())
    print('fixture: %s (%.2f GiB), big file %s (%d MiB), %d small files (%d bytes); ZEO server: runzeo, unix socket'
          % (fx.datafs, fx.size / (1 << 30), fx.big_path, fx.big_size >> 20, len(small), small_bytes))
    print('medians of %d runs; every client fresh (no object cache), Data.fs in the page cache unless "cold"' % args.runs)
    print(table(rows))
    print('CPU during the big-file read (Data.fs cached), medians: through the ZEO mount, runzeo used %.0f%% of a '
          'core and the zodbfs process %.0f%% (all its threads); under the Python client, runzeo used %.0f%%'
          % (100 * med('server_busy'), 100 * med('client_busy'), 100 * med('server_busy_py')))
    return 0


if __name__ == '__main__':
    sys.exit(main())
