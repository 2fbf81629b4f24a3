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

Both transports, each with its own runzeo on the same Data.fs: TCP on
127.0.0.1, what the issue's deployment uses (zodbfs mounts on web hosts,
clients of a ZEO server elsewhere), which the targets are checked on; and
a unix socket (a client on the server's own host), shown beside it. On two
cores they behave differently: over the unix socket each reply wakes the
reader synchronously, and the scheduler keeps putting runzeo and the
client's event loop on one core.
"""

import argparse
import os
import socket
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
if not address.startswith('/'):
    host, port = address.rsplit(':', 1)
    address = (host, int(port))
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


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


class ZEOServer:
    """runzeo on Data.fs, read-only, at a unix socket or on 127.0.0.1
    (``transport``); ``address`` is what clients are given."""

    def __init__(self, workdir, datafs, transport):
        self.transport = transport
        if transport == 'unix':
            self.address = os.path.join(workdir, 'zeo.sock')
        else:
            self.address = '127.0.0.1:%d' % free_port()
        self.conf = os.path.join(workdir, 'zeo-%s.conf' % transport)
        self.log = os.path.join(workdir, 'zeo-%s.log' % transport)
        with open(self.conf, 'w') as f:
            f.write('<zeo>\n  address %s\n  read-only true\n</zeo>\n'
                    '<filestorage 1>\n  path %s\n  read-only true\n</filestorage>\n'
                    % (self.address, datafs))
        self.proc = None

    def listening(self):
        if self.transport == 'unix':
            return os.path.exists(self.address)
        host, port = self.address.rsplit(':', 1)
        try:
            socket.create_connection((host, int(port)), 0.2).close()
            return True
        except OSError:
            return False

    def start(self):
        with open(self.log, 'a') as logf:
            self.proc = subprocess.Popen([RUNZEO, '-C', self.conf], stdin=subprocess.DEVNULL,
                                         stdout=logf, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.time() + 120
        while not self.listening():
            if self.proc.poll() is not None or time.time() > deadline:
                raise RuntimeError('runzeo did not start: %s' % tail(self.log))
            time.sleep(0.05)

    def stop(self):
        if self.proc is not None:
            stop_process(self.proc)
            self.proc = None


class ZEOMount(ZodbfsMount):
    """A read-only zodbfs mount through the server (``store`` is its address)."""

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
    p = subprocess.Popen([VENV_PYTHON, '-c', PEER, server.address, fx.big_path, fx.btree] + names,
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
    transports = ('tcp', 'unix')
    servers = {t: ZEOServer(workdir, fx.datafs, t) for t in transports}
    mounts = {}
    for t in transports:
        mp = os.path.join(workdir, 'zeo-' + t)
        os.makedirs(mp)
        mounts[t] = ZEOMount(servers[t].address, mp, os.path.join(workdir, 'zeo-%s-mount.log' % t))
    lmp = os.path.join(workdir, 'local')
    os.makedirs(lmp)
    local = ZodbfsMount(fx.datafs, lmp, os.path.join(workdir, 'local-mount.log'))
    samples = []
    try:
        log('warming the disk (Data.fs read once, unmeasured)')
        dd_read(fx.datafs)
        for server in servers.values():
            server.start()
        for i in range(args.runs):
            log('run %d of %d' % (i + 1, args.runs))
            s = {}
            for cold in (False, True):
                suffix = '_cold' if cold else ''
                for t in transports:
                    server = servers[t]
                    dd_read(fx.datafs)
                    before = cpu_seconds(server.proc.pid)
                    r = python_peer(server, fx, 'big', [], cold=cold)
                    assert r['bytes'] == fx.big_size, r
                    s[t + '_py_big' + suffix] = r['bytes'] / r['seconds'] / MB
                    if not cold:
                        s[t + '_server_busy_py'] = (cpu_seconds(server.proc.pid) - before) / r['seconds']
                for key, mount in [(t, mounts[t]) for t in transports] + [('local', local)]:
                    mount.fresh()
                    dd_read(fx.datafs)
                    if cold:
                        drop_caches()
                    server = servers.get(key)
                    before = (cpu_seconds(server.proc.pid) if server else 0, cpu_seconds(mount.pid))
                    nbytes, seconds = dd_read(mount.path(fx.big_path))
                    assert nbytes == fx.big_size, (key, nbytes)
                    s[key + '_big' + suffix] = nbytes / seconds / MB
                    if server and not cold:
                        s[key + '_server_busy'] = (cpu_seconds(server.proc.pid) - before[0]) / seconds
                        s[key + '_client_busy'] = (cpu_seconds(mount.pid) - before[1]) / seconds
                    mount.unmount()
            dd_read(fx.datafs)
            for key, mount in [('local', local)] + [(t, mounts[t]) for t in transports]:
                mount.fresh()
                seconds, nbytes = cat_all([mount.path(p) for p in small])
                assert nbytes == small_bytes, (key, nbytes, small_bytes)
                s[key + '_small'] = seconds
            for t in transports:
                r = python_peer(servers[t], fx, 'small', names)
                assert r['bytes'] == small_bytes, (r, small_bytes)
                s[t + '_py_small'] = r['seconds']
            samples.append(s)
            log('  %s' % ', '.join('%s %.3g' % kv for kv in sorted(s.items())))
    finally:
        for mount in list(mounts.values()) + [local]:
            mount.unmount()
        for server in servers.values():
            server.stop()

    def med(key):
        return statistics.median(x[key] for x in samples)

    rows = []
    for t, name in (('tcp', 'TCP'), ('unix', 'unix socket')):
        primary = t == 'tcp'
        rows += [
            Row('big file, ZEO mount over %s' % name, med(t + '_big'), 'Python ZEO client', med(t + '_py_big'),
                fmt_mbps, target='≥ 5× Python' if primary else None,
                check=(lambda ours, ratio: ratio >= 5) if primary else None),
            Row('big file, ZEO mount over %s' % name, med(t + '_big'), 'local FileStorage mount', med('local_big'),
                fmt_mbps),
            Row('big file, server disk cold, %s' % name, med(t + '_big_cold'), 'Python ZEO client',
                med(t + '_py_big_cold'), fmt_mbps),
            Row('%d small files, ZEO mount over %s' % (len(small), name), med(t + '_small'), 'local FileStorage mount',
                med('local_small'), fmt_s, target='≤ 3× local' if primary else None,
                check=(lambda ours, ratio: ratio <= 3) if primary else None),
            Row('%d small files, ZEO mount over %s' % (len(small), name), med(t + '_small'), 'Python ZEO client',
                med(t + '_py_small'), fmt_s),
        ]
    print(machine_info())
    print('fixture: %s (%.2f GiB), big file %s (%d MiB), %d small files (%d bytes); ZEO servers: runzeo on '
          '127.0.0.1 (TCP) and on a unix socket; targets checked over TCP'
          % (fx.datafs, fx.size / (1 << 30), fx.big_path, fx.big_size >> 20, len(small), small_bytes))
    print('medians of %d runs; every client fresh (no object cache), Data.fs in the page cache unless "cold"' % args.runs)
    print(table(rows))
    for t, name in (('tcp', 'TCP'), ('unix', 'the unix socket')):
        print('CPU during the big-file read over %s (Data.fs cached), medians: through the ZEO mount, runzeo used '
              '%.0f%% of a core and the zodbfs process %.0f%% (all its threads); under the Python client, runzeo '
              'used %.0f%%' % (name, 100 * med(t + '_server_busy'), 100 * med(t + '_client_busy'),
                               100 * med(t + '_server_busy_py')))
    print('big file by run (MB/s): ' + '; '.join(
        '%s zodbfs %s / Python %s' % (t, ', '.join('%.0f' % x[t + '_big'] for x in samples),
                                      ', '.join('%.0f' % x[t + '_py_big'] for x in samples))
        for t in ('tcp', 'unix')))
    return 0


if __name__ == '__main__':
    sys.exit(main())
