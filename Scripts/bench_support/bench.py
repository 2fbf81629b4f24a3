#!/usr/bin/env python3
"""zodbfs benchmark: zodbfs's figures next to its peers', measured in one run.

Run through ``Scripts/bench`` (which installs the packages, the venv and
builds the release binary first).  Needs root: it drops the page cache with
``echo 3 > /proc/sys/vm/drop_caches`` and mounts through /dev/fuse.

Every measurement is a function doing one run; ``main`` calls them in
rounds (run 1 of everything, then run 2, ...) so that machine drift hits
zodbfs and its peers alike, and reports medians.  "cold" always means: set
up (mount, open the database, start the server), drop the page cache, then
measure.  MB/s are 10^6 bytes per second, as dd prints them.
"""

import argparse
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BENCH_DIR = os.path.join(ROOT, 'var', 'bench')
FIXTURE_DIR = os.path.join(BENCH_DIR, 'fixture')
PLAIN_DIR = os.path.join(BENCH_DIR, 'plain')
VENV_PYTHON = os.path.join(ROOT, '.venv', 'bin', 'python')
RUNWSGI = os.path.join(ROOT, '.venv', 'bin', 'runwsgi')
ZODBFS = os.path.join(ROOT, '.build', 'release', 'zodbfs')
BUILDER = os.path.join(ROOT, 'Scripts', 'fixtures', 'build_zope_fixture.py')
PEER = os.path.join(HERE, 'zope_peer.py')

MB = 1e6
MiB = 1 << 20
ENV = dict(os.environ, LC_ALL='C')


def log(msg):
    print('  · ' + msg, file=sys.stderr, flush=True)


def run(cmd, **kw):
    kw.setdefault('check', True)
    kw.setdefault('env', ENV)
    return subprocess.run(cmd, **kw)


def drop_caches():
    os.sync()
    with open('/proc/sys/vm/drop_caches', 'w') as f:
        f.write('3\n')


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def dd_read(path, nbytes=None, bs='1M'):
    """Read ``path`` (its first ``nbytes``) with dd; returns (bytes, seconds)
    as dd reports them."""
    cmd = ['dd', 'if=' + path, 'of=/dev/null', 'bs=' + bs]
    if nbytes is not None:
        cmd += ['count=%d' % nbytes, 'iflag=count_bytes']
    out = run(cmd, stderr=subprocess.PIPE, text=True).stderr
    m = re.search(r'^(\d+) bytes .* copied, ([0-9.e+-]+) s', out, re.M)
    if not m:
        raise RuntimeError('cannot parse dd output: %r' % out)
    return int(m.group(1)), float(m.group(2))


def dd_mbps(path, nbytes=None, expect=None):
    n, s = dd_read(path, nbytes)
    if expect is not None and n != expect:
        raise RuntimeError('%s: read %d bytes, expected %d' % (path, n, expect))
    return n / s / MB


def find_stat(path):
    """Time `find PATH -printf '%s %T@'` (a stat of every entry); returns
    (seconds, entries listed)."""
    t0 = time.perf_counter()
    out = run(['find', path, '-printf', '%s %T@\n'], stdout=subprocess.PIPE).stdout
    return time.perf_counter() - t0, out.count(b'\n')


def proc_kib(pid, field):
    try:
        with open('/proc/%d/status' % pid) as f:
            for line in f:
                if line.startswith(field + ':'):
                    return int(line.split()[1])
    except FileNotFoundError:
        pass
    return 0


def curl(url):
    """GET url; returns (first byte s, total s, bytes/s, bytes)."""
    out = run(['curl', '-sS', '-o', '/dev/null', '-w',
               '%{http_code} %{time_starttransfer} %{time_total} '
               '%{speed_download} %{size_download}', url],
              stdout=subprocess.PIPE, text=True).stdout.split()
    if out[0] != '200':
        raise RuntimeError('GET %s: HTTP %s' % (url, out[0]))
    return float(out[1]), float(out[2]), float(out[3]), int(out[4])


def stop_process(proc, sig=signal.SIGTERM, timeout=15):
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# --------------------------------------------------------------------------
# the fixture


class Fixture:
    def __init__(self, directory):
        self.dir = directory
        self.datafs = os.path.join(directory, 'Data.fs')
        with open(os.path.join(directory, 'manifest.json'), encoding='utf-8') as f:
            m = json.load(f)
        self.manifest = m
        by_path = {e['path']: e for e in m['entries']}
        self.big_path = m['interesting']['biggest_file']
        self.big = by_path[self.big_path]
        self.big_size = self.big['size']
        self.btree = m['interesting']['btreefolder']
        self.btree_children = m['interesting']['btreefolder_children']
        self.size = os.path.getsize(self.datafs)
        self.built_seconds = None


def ensure_fixture(rebuild):
    manifest = os.path.join(FIXTURE_DIR, 'manifest.json')
    if rebuild or not os.path.exists(manifest):
        log('building the bench fixture with the pinned Zope (about half a minute)')
        tmp = FIXTURE_DIR + '.new'
        shutil.rmtree(tmp, ignore_errors=True)
        t0 = time.perf_counter()
        run([VENV_PYTHON, BUILDER, '--output', tmp, '--scale', 'bench'],
            stdout=subprocess.DEVNULL)
        seconds = time.perf_counter() - t0
        shutil.rmtree(FIXTURE_DIR, ignore_errors=True)
        shutil.rmtree(PLAIN_DIR, ignore_errors=True)
        os.rename(tmp, FIXTURE_DIR)
        fx = Fixture(FIXTURE_DIR)
        fx.built_seconds = seconds
        return fx
    return Fixture(FIXTURE_DIR)


def ensure_plain_tree(fx):
    """The BTreeFolder2 written out as plain files on the same disk (the
    peer of `find` over the mount), made once per fixture."""
    stamp = os.path.join(PLAIN_DIR, '.stamp')
    want = fx.manifest['last_tid']
    tree = os.path.join(PLAIN_DIR, fx.btree)
    if os.path.exists(stamp) and open(stamp).read() == want:
        return tree
    log('writing %s/ out as plain files for the find peer' % fx.btree)
    shutil.rmtree(PLAIN_DIR, ignore_errors=True)
    os.makedirs(PLAIN_DIR)
    run([VENV_PYTHON, PEER, 'export', fx.datafs, fx.btree, tree],
        stdout=subprocess.DEVNULL)
    with open(stamp, 'w') as f:
        f.write(want)
    return tree


# --------------------------------------------------------------------------
# zodbfs mounts, nginx, Zope


class ZodbfsMount:
    """One mount point; ``fresh()`` (re)mounts the store on it.  The mount
    runs in the foreground (-f) as our own child in its own session, so its
    pid is known, its log is kept, and Ctrl-C reaches only this script,
    which unmounts."""

    def __init__(self, store, mountpoint, logfile):
        self.store = store
        self.mountpoint = mountpoint
        self.logfile = logfile
        self.proc = None

    @property
    def pid(self):
        return self.proc.pid

    def command(self):
        return [ZODBFS, 'mount', self.store, self.mountpoint, '--read-only',
                '--allow-other', '-f']

    def fresh(self):
        self.unmount()
        with open(self.logfile, 'a') as logf:
            self.proc = subprocess.Popen(
                self.command(), stdin=subprocess.DEVNULL, stdout=logf,
                stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.time() + 60
        while not self.is_mounted():
            if self.proc.poll() is not None or time.time() > deadline:
                self.unmount()
                raise RuntimeError('zodbfs mount failed: %s' % tail(self.logfile))
            time.sleep(0.02)
        return self

    def path(self, rel):
        return os.path.join(self.mountpoint, rel)

    def is_mounted(self):
        with open('/proc/mounts') as f:
            return any(line.split()[1] == self.mountpoint for line in f)

    def unmount(self):
        if self.is_mounted():
            r = run([ZODBFS, 'unmount', self.mountpoint], check=False,
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            if r.returncode != 0 and self.is_mounted():
                run(['fusermount3', '-u', '-z', self.mountpoint], check=False,
                    stderr=subprocess.DEVNULL)
        if self.proc is not None:
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None


class Nginx:
    CONF = """\
worker_processes 1;
daemon off;
pid %(dir)s/nginx.pid;
error_log %(dir)s/error.log;
events { worker_connections 64; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    server {
        listen 127.0.0.1:%(port)d;
        root %(root)s;
        location / { }
    }
}
"""

    def __init__(self, workdir, root):
        self.dir = os.path.join(workdir, 'nginx')
        os.makedirs(self.dir)
        self.port = free_port()
        conf = os.path.join(self.dir, 'nginx.conf')
        with open(conf, 'w') as f:
            f.write(self.CONF % {'dir': self.dir, 'port': self.port, 'root': root})
        self.proc = subprocess.Popen(
            ['nginx', '-e', os.path.join(self.dir, 'error.log'), '-p', self.dir,
             '-c', conf], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port(self.port, self.proc, 10, 'nginx', os.path.join(self.dir, 'error.log'))

    def url(self, rel):
        from urllib.parse import quote
        return 'http://127.0.0.1:%d/%s' % (self.port, quote(rel))

    def stop(self):
        stop_process(self.proc, signal.SIGQUIT)


def wait_for_port(port, proc, timeout, what, logfile):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError('%s exited (%s): %s' % (what, proc.returncode,
                                                      tail(logfile)))
        with socket.socket() as s:
            if s.connect_ex(('127.0.0.1', port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError('%s did not listen on port %d within %d s: %s'
                       % (what, port, timeout, tail(logfile)))


def tail(path, n=15):
    try:
        with open(path, errors='replace') as f:
            return ''.join(f.readlines()[-n:])
    except OSError:
        return '(no log)'


class Zope:
    """A Zope WSGI instance (runwsgi + waitress on 127.0.0.1) whose main
    database is the fixture's Data.fs opened read-only."""

    ZOPE_CONF = """\
%%define INSTANCE %(home)s
instancehome $INSTANCE
<zodb_db main>
  <filestorage>
    path %(datafs)s
    read-only true
  </filestorage>
  mount-point /
</zodb_db>
"""
    ZOPE_INI = """\
[app:zope]
use = egg:Zope#main
zope_conf = %%(here)s/zope.conf

[server:main]
use = egg:waitress#main
host = 127.0.0.1
port = %(port)d

[pipeline:main]
pipeline =
    egg:Zope#httpexceptions
    zope

[loggers]
keys = root

[handlers]
keys = console

[formatters]
keys = generic

[logger_root]
level = WARN
handlers = console

[handler_console]
class = StreamHandler
args = (sys.stderr,)
level = NOTSET
formatter = generic

[formatter_generic]
format = %%(asctime)s %%(levelname)s [%%(name)s] %%(message)s
"""

    def __init__(self, workdir, datafs):
        self.home = os.path.join(workdir, 'zope')
        etc = os.path.join(self.home, 'etc')
        os.makedirs(etc, exist_ok=True)
        os.makedirs(os.path.join(self.home, 'var'), exist_ok=True)
        self.port = free_port()
        for path in (self.home, datafs):
            if '\n' in path or '$' in path:
                raise RuntimeError('path not usable in zope.conf: %r' % path)
        with open(os.path.join(etc, 'zope.conf'), 'w') as f:
            f.write(self.ZOPE_CONF % {'home': self.home, 'datafs': datafs})
        self.ini = os.path.join(etc, 'zope.ini')
        with open(self.ini, 'w') as f:
            f.write(self.ZOPE_INI % {'port': self.port})
        self.logfile = os.path.join(self.home, 'var', 'runwsgi.log')
        self.proc = None

    def start(self):
        logf = open(self.logfile, 'w')
        self.proc = subprocess.Popen([RUNWSGI, self.ini], stdout=logf,
                                     stderr=subprocess.STDOUT, cwd=self.home)
        logf.close()
        wait_for_port(self.port, self.proc, 120, 'Zope (runwsgi)', self.logfile)
        # listening is not serving: wait for Zope's own answer
        for _ in range(600):
            r = run(['curl', '-s', '-o', '/dev/null', '-w', '%{http_code}',
                     'http://127.0.0.1:%d/' % self.port], check=False,
                    stdout=subprocess.PIPE, text=True)
            if r.stdout.strip() in ('200', '401', '302'):
                return
            time.sleep(0.1)
        raise RuntimeError('Zope does not answer: %s' % tail(self.logfile))

    def url(self, rel):
        from urllib.parse import quote
        return 'http://127.0.0.1:%d/%s' % (self.port, quote(rel))

    def stop(self):
        if self.proc is not None:
            stop_process(self.proc)
            self.proc = None


# --------------------------------------------------------------------------
# measurements: each does ONE run and returns a dict of figures


class Bench:
    def __init__(self, fx, workdir, with_zodbfs):
        self.fx = fx
        self.workdir = workdir
        self.mount = None
        self.nginx = None
        self.zope = Zope(workdir, fx.datafs)
        if with_zodbfs:
            mp = os.path.join(workdir, 'mnt')
            os.makedirs(mp)
            self.mount = ZodbfsMount(fx.datafs, mp, os.path.join(workdir, 'zodbfs.log'))

    # ---- peers ----

    def dd_datafs(self):
        """dd of the largest file's byte count from the start of Data.fs."""
        n = self.fx.big_size
        drop_caches()
        cold = dd_mbps(self.fx.datafs, n, n)
        warm = dd_mbps(self.fx.datafs, n, n)
        return {'cold': cold, 'warm': warm}

    def _peer_passes(self, command, path):
        """Run zope_peer.py COMMAND: wait until it has opened the database,
        drop the page cache, then let it do a cold and a warm pass."""
        p = subprocess.Popen([VENV_PYTHON, PEER, command, self.fx.datafs, path],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             text=True, env=ENV)
        try:
            if not json.loads(p.stdout.readline() or 'null'):
                raise RuntimeError('the Python peer (%s) failed to start' % command)
            drop_caches()
            results = []
            for _ in ('cold', 'warm'):
                p.stdin.write('go\n')
                p.stdin.flush()
                line = p.stdout.readline()
                if not line:
                    raise RuntimeError('the Python peer (%s) died' % command)
                results.append(json.loads(line))
            p.stdin.close()
            p.wait(30)
            return results
        finally:
            stop_process(p)

    def python_pdata(self):
        """Zope's File.index_html walk of the Pdata chain, cold then warm
        (second pass in the same process after ghosting every object)."""
        cold, warm = self._peer_passes('read', self.fx.big_path)
        for r in (cold, warm):
            if r['bytes'] != self.fx.big_size:
                raise RuntimeError('Python read %d bytes' % r['bytes'])
        return {'cold': cold['bytes'] / cold['seconds'] / MB,
                'warm': warm['bytes'] / warm['seconds'] / MB,
                'rss': (cold['maxrss_kib'] - cold['rss_before_kib']) / 1024}

    def python_listing(self):
        """objectIds() + size of every child of the BTreeFolder2."""
        cold, warm = self._peer_passes('list', self.fx.btree)
        return {'cold': cold['seconds'], 'warm': warm['seconds']}

    def _find(self, tree):
        drop_caches()
        (cold, n1), (warm, n2) = find_stat(tree), find_stat(tree)
        want = self.fx.btree_children + 2  # the folder itself, a file in the sub folder
        if n1 != want or n2 != want:
            raise RuntimeError('find %s listed %d/%d entries, expected %d'
                               % (tree, n1, n2, want))
        return {'cold': cold, 'warm': warm}

    def find_plain(self):
        return self._find(self.plain_tree)

    def http_zope(self):
        """A freshly started Zope, cold then warm GET of the largest file."""
        z = self.zope
        z.start()
        try:
            pid = z.proc.pid
            idle = proc_kib(pid, 'VmRSS')
            drop_caches()
            cold = curl(z.url(self.fx.big_path))
            peak = proc_kib(pid, 'VmHWM')
            warm = curl(z.url(self.fx.big_path))
        finally:
            z.stop()
        for r in (cold, warm):
            if r[3] != self.fx.big_size:
                raise RuntimeError('Zope sent %d bytes' % r[3])
        return {'ttfb_cold': cold[0], 'ttfb_warm': warm[0],
                'mbps_cold': cold[2] / MB, 'mbps_warm': warm[2] / MB,
                'rss': (peak - idle) / 1024}

    # ---- zodbfs ----

    def zodbfs_cold(self):
        m = self.mount.fresh()
        drop_caches()
        return {'cold': dd_mbps(m.path(self.fx.big_path), None, self.fx.big_size)}

    def zodbfs_cached(self):
        """First pass with Data.fs in the page cache (fresh mount, so the
        mount's own cache for the file is empty), then a repeat read."""
        m = self.mount.fresh()
        drop_caches()
        dd_read(self.fx.datafs, bs='4M')
        f = m.path(self.fx.big_path)
        first = dd_mbps(f, None, self.fx.big_size)
        repeat = dd_mbps(f, None, self.fx.big_size)
        return {'first': first, 'repeat': repeat}

    def zodbfs_rss(self):
        """VmRSS of the zodbfs process sampled every 10 ms while a cold read
        streams the largest file; peak minus idle."""
        m = self.mount.fresh()
        drop_caches()
        time.sleep(0.2)
        idle = proc_kib(m.pid, 'VmRSS')
        peak = [idle]
        done = threading.Event()

        def sample():
            while not done.is_set():
                peak[0] = max(peak[0], proc_kib(m.pid, 'VmRSS'))
                time.sleep(0.01)

        t = threading.Thread(target=sample)
        t.start()
        try:
            dd_read(m.path(self.fx.big_path))
        finally:
            done.set()
            t.join()
        peak[0] = max(peak[0], proc_kib(m.pid, 'VmRSS'))
        return {'rss': (peak[0] - idle) / 1024, 'idle': idle / 1024}

    def find_mount(self):
        return self._find(self.mount.fresh().path(self.fx.btree))

    def http_nginx(self):
        """nginx (sendfile) on a fresh mount: cold then warm GET."""
        self.mount.fresh()
        drop_caches()
        url = self.nginx.url(self.fx.big_path)
        cold = curl(url)
        warm = curl(url)
        for r in (cold, warm):
            if r[3] != self.fx.big_size:
                raise RuntimeError('nginx sent %d bytes' % r[3])
        return {'ttfb_cold': cold[0], 'ttfb_warm': warm[0],
                'mbps_cold': cold[2] / MB, 'mbps_warm': warm[2] / MB}

    def verify(self):
        """sha256 of the largest file through the mount and through nginx."""
        want = self.fx.big['sha256']
        m = self.mount if self.mount.is_mounted() else self.mount.fresh()
        got = run(['sha256sum', m.path(self.fx.big_path)], stdout=subprocess.PIPE,
                  text=True).stdout.split()[0]
        via_nginx = run('curl -sS %s | sha256sum' % self.nginx.url(self.fx.big_path),
                        shell=True, stdout=subprocess.PIPE, text=True).stdout.split()[0]
        return {'mount': got == want, 'nginx': via_nginx == want}


# --------------------------------------------------------------------------
# report


def fmt_mbps(v):
    return '—' if v is None else '{:,.0f} MB/s'.format(v)


def fmt_s(v):
    if v is None:
        return '—'
    if v < 1:
        return '{:,.2f} ms'.format(v * 1000)
    return '{:,.2f} s'.format(v)


def fmt_mib(v):
    return '—' if v is None else '{:,.1f} MiB'.format(v)


def median(samples, key):
    vals = [s[key] for s in samples if s is not None]
    return statistics.median(vals) if vals else None


def spread(samples, key, fmt):
    vals = [s[key] for s in samples if s is not None]
    return ', '.join(fmt(v) for v in vals)


class Row:
    def __init__(self, what, ours, peer_name, peer, fmt, ratio_of=None,
                 target=None, check=None, ratio=None):
        self.what = what
        self.ours = ours
        self.peer_name = peer_name
        self.peer = peer
        self.fmt = fmt
        self.target = target or 'info'
        self.check = check
        self.ratio = ratio if ratio is not None else (
            ours / peer if ours is not None and peer else None)

    def cells(self):
        if self.check is None or self.ours is None:
            result = '—'
        else:
            result = 'PASS' if self.check(self.ours, self.ratio) else 'MISS'
        ratio = '—' if self.ratio is None else (
            '{:.3f}×'.format(self.ratio) if self.ratio < 0.1 else
            '{:.2f}×'.format(self.ratio))
        peer = '%s %s' % (self.peer_name, self.fmt(self.peer)) if self.peer_name else '—'
        return [self.what, self.fmt(self.ours), peer, ratio, self.target, result]


def table(rows):
    head = ['measurement', 'zodbfs', 'peer', 'zodbfs/peer', 'target', 'result']
    cells = [head] + [r.cells() for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(head))]
    lines = []
    for i, c in enumerate(cells):
        lines.append('  '.join(x.ljust(w) if j == 0 or j == 2 or j >= 4 else x.rjust(w)
                               for j, (x, w) in enumerate(zip(c, widths))).rstrip())
        if i == 0:
            lines.append('  '.join('-' * w for w in widths))
    return '\n'.join(lines)


def machine_info():
    mem = 0
    with open('/proc/meminfo') as f:
        for line in f:
            if line.startswith('MemTotal:'):
                mem = int(line.split()[1]) * 1024
    cpu = ''
    with open('/proc/cpuinfo') as f:
        for line in f:
            if line.startswith('model name'):
                cpu = line.split(':', 1)[1].strip()
                break
    fuse = run(['fusermount3', '-V'], check=False, stdout=subprocess.PIPE,
               stderr=subprocess.STDOUT, text=True).stdout.strip()
    return ('machine: %d CPUs (%s), %.1f GiB RAM, kernel %s, %s'
            % (os.cpu_count(), cpu, mem / (1 << 30), platform.release(), fuse))


NOTES = """\
Medians of %(runs)d runs, run in rounds (run 1 of every measurement, then run 2,
...). MB = 10^6 bytes. zodbfs/peer: for MB/s higher is better, for times and
memory lower is better. "cold": the page cache is dropped after mounting /
opening / starting and before measuring; Data.fs is read once, unmeasured,
before the first run, so that no run pays for a cache below this machine's.
- seq read: dd bs=1M of %(file)s through the mount; a fresh mount
  for "cold" and "1st pass" (which runs after Data.fs was read into the page
  cache), "repeat" reads it again through the same mount.
- dd Data.fs: the same byte count from the start of Data.fs, cold then warm,
  right before the mount's cold read of the same round; the cold ratio is
  the median of the rounds' ratios (this disk's throughput changes from
  minute to minute, so only reads close in time compare).
- Python Pdata: one process, FileStorage(read_only=True) + DB, walking the
  chain as OFS.Image.File.index_html does; "warm" is a second pass after
  cacheMinimize() (records reloaded from the page cache).
- HTTP: curl of %(file)s; nginx (sendfile) serving the mount,
  fresh mount per run; Zope = runwsgi (waitress) on the same Data.fs opened
  read-only, freshly started per run; "warm" = the second request.
- find+stat: find %(btree)s -printf '%%s %%T@' on the mount (fresh mount) and on
  the same tree written out as plain files; Python = objectIds() + size.
- RSS growth: peak VmRSS (sampled every 10 ms) during a cold read minus idle
  VmRSS after mounting; peers: the Python walk's peak, the Zope server's VmHWM."""


def report(fx, s, with_zodbfs, runs, verified):
    def z(name, key):
        return median(s[name], key) if with_zodbfs else None

    dd_cold, dd_warm = median(s['dd_datafs'], 'cold'), median(s['dd_datafs'], 'warm')
    # dd runs right before the mount's cold read in each round: the ratio is
    # the median of the rounds' ratios
    paired_cold = statistics.median(
        z['cold'] / d['cold'] for z, d in zip(s['zodbfs_cold'], s['dd_datafs'])) if with_zodbfs else None
    py_cold, py_warm = median(s['python_pdata'], 'cold'), median(s['python_pdata'], 'warm')
    zope = s['http_zope']
    rows = [
        Row('seq read, cold', z('zodbfs_cold', 'cold'), 'dd Data.fs cold', dd_cold,
            fmt_mbps, target='>= 0.80× dd cold', check=lambda v, r: r >= 0.8,
            ratio=paired_cold),
        Row('seq read, cold', z('zodbfs_cold', 'cold'), 'Python Pdata cold', py_cold,
            fmt_mbps),
        Row('seq read, 1st pass, Data.fs cached', z('zodbfs_cached', 'first'),
            'Python Pdata warm', py_warm, fmt_mbps,
            target='>= 2× Python warm', check=lambda v, r: r >= 2.0),
        Row('seq read, 1st pass, Data.fs cached', z('zodbfs_cached', 'first'),
            'dd Data.fs warm', dd_warm, fmt_mbps),
        Row('seq read, repeat (mount cache)', z('zodbfs_cached', 'repeat'),
            'dd Data.fs warm', dd_warm, fmt_mbps,
            target='>= 0.40× dd warm', check=lambda v, r: r >= 0.4),
        Row('HTTP first byte, cold (nginx)', z('http_nginx', 'ttfb_cold'),
            'Zope runwsgi', median(zope, 'ttfb_cold'), fmt_s,
            target='< 10 ms', check=lambda v, r: v < 0.010),
        Row('HTTP first byte, warm (nginx)', z('http_nginx', 'ttfb_warm'),
            'Zope runwsgi', median(zope, 'ttfb_warm'), fmt_s,
            target='< 10 ms', check=lambda v, r: v < 0.010),
        Row('HTTP download, cold (nginx)', z('http_nginx', 'mbps_cold'),
            'Zope runwsgi', median(zope, 'mbps_cold'), fmt_mbps),
        Row('HTTP download, warm (nginx)', z('http_nginx', 'mbps_warm'),
            'Zope runwsgi', median(zope, 'mbps_warm'), fmt_mbps),
        Row('find+stat %s/, cold' % fx.btree, z('find_mount', 'cold'),
            'plain dir', median(s['find_plain'], 'cold'), fmt_s),
        Row('find+stat %s/, warm' % fx.btree, z('find_mount', 'warm'),
            'plain dir', median(s['find_plain'], 'warm'), fmt_s),
        Row('find+stat %s/, cold' % fx.btree, z('find_mount', 'cold'),
            'Python objectIds+size', median(s['python_listing'], 'cold'), fmt_s),
        Row('find+stat %s/, warm' % fx.btree, z('find_mount', 'warm'),
            'Python objectIds+size', median(s['python_listing'], 'warm'), fmt_s),
        Row('RSS growth streaming %d MiB' % (fx.big_size // MiB), z('zodbfs_rss', 'rss'),
            'Python Pdata walk', median(s['python_pdata'], 'rss'), fmt_mib,
            target='< 64 MiB', check=lambda v, r: v < 64),
        Row('RSS growth streaming %d MiB' % (fx.big_size // MiB), z('zodbfs_rss', 'rss'),
            'Zope server', median(zope, 'rss'), fmt_mib),
    ]
    print()
    print(table(rows))
    print()
    print(NOTES % {'runs': runs, 'file': fx.big_path, 'btree': fx.btree})
    if with_zodbfs:
        print('zodbfs idle RSS after mounting: %s'
              % fmt_mib(median(s['zodbfs_rss'], 'idle')))
        print('sha256 of %s through the mount: %s; through nginx: %s'
              % (fx.big_path, 'ok' if verified['mount'] else 'MISMATCH',
                 'ok' if verified['nginx'] else 'MISMATCH'))
    print()
    print('all runs:')
    detail = [
        ('dd Data.fs cold / warm', 'dd_datafs', ('cold', 'warm'), fmt_mbps),
        ('Python Pdata cold / warm', 'python_pdata', ('cold', 'warm'), fmt_mbps),
        ('Python RSS growth', 'python_pdata', ('rss',), fmt_mib),
        ('Python objectIds+size cold / warm', 'python_listing', ('cold', 'warm'), fmt_s),
        ('plain dir find+stat cold / warm', 'find_plain', ('cold', 'warm'), fmt_s),
        ('Zope first byte cold / warm', 'http_zope', ('ttfb_cold', 'ttfb_warm'), fmt_s),
        ('Zope download cold / warm', 'http_zope', ('mbps_cold', 'mbps_warm'), fmt_mbps),
        ('Zope server RSS growth', 'http_zope', ('rss',), fmt_mib),
    ]
    if with_zodbfs:
        detail += [
            ('zodbfs seq read cold', 'zodbfs_cold', ('cold',), fmt_mbps),
            ('zodbfs 1st pass / repeat', 'zodbfs_cached', ('first', 'repeat'), fmt_mbps),
            ('zodbfs RSS growth', 'zodbfs_rss', ('rss',), fmt_mib),
            ('zodbfs find+stat cold / warm', 'find_mount', ('cold', 'warm'), fmt_s),
            ('nginx first byte cold / warm', 'http_nginx', ('ttfb_cold', 'ttfb_warm'), fmt_s),
            ('nginx download cold / warm', 'http_nginx', ('mbps_cold', 'mbps_warm'), fmt_mbps),
        ]
    width = max(len(d[0]) for d in detail)
    for label, name, keys, fmt in detail:
        parts = [spread(s[name], k, fmt) for k in keys]
        print('  %s  %s' % (label.ljust(width), '  /  '.join('[%s]' % p for p in parts)))
    return rows


# --------------------------------------------------------------------------


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--rebuild', action='store_true',
                   help='rebuild the fixture in var/bench/ even if present')
    p.add_argument('--runs', type=int, default=3, help='runs per measurement (median)')
    p.add_argument('--peers-only', action='store_true',
                   help='measure only the peers (no zodbfs binary needed)')
    args = p.parse_args()
    if os.geteuid() != 0:
        raise SystemExit('bench: run as root (drops the page cache, mounts FUSE)')
    with_zodbfs = not args.peers_only
    if with_zodbfs and not os.access(ZODBFS, os.X_OK):
        raise SystemExit('bench: %s missing; run Scripts/bench (it builds it)'
                         % os.path.relpath(ZODBFS, ROOT))

    def terminate(signum, frame):
        raise KeyboardInterrupt
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, terminate)

    t_start = time.perf_counter()
    os.makedirs(BENCH_DIR, exist_ok=True)
    try:
        fx = ensure_fixture(args.rebuild)
    except KeyboardInterrupt:
        print('\nbench: interrupted', file=sys.stderr)
        return 130

    print(machine_info())
    print('fixture: %s, Data.fs %.1f MiB (%d transactions%s); largest file %s, '
          '%s bytes; %s/ BTreeFolder2 with %d entries'
          % (os.path.relpath(fx.dir, ROOT), fx.size / MiB, fx.manifest['transactions'],
             ', built in %.1f s' % fx.built_seconds if fx.built_seconds else ', reused',
             fx.big_path, '{:,}'.format(fx.big_size), fx.btree, fx.btree_children))
    sys.stdout.flush()

    workdir = tempfile.mkdtemp(prefix='zodbfs-bench-')
    os.chmod(workdir, 0o755)  # the nginx worker user walks into the mount
    bench = Bench(fx, workdir, with_zodbfs)
    status = 0
    try:
        bench.plain_tree = ensure_plain_tree(fx)
        peers = ['python_pdata', 'python_listing', 'find_plain', 'http_zope']
        ours = ['dd_datafs', 'zodbfs_cold', 'zodbfs_cached', 'zodbfs_rss', 'find_mount',
                'http_nginx'] if with_zodbfs else ['dd_datafs']
        if with_zodbfs:
            bench.nginx = Nginx(workdir, bench.mount.mountpoint)
        samples = {name: [] for name in peers + ours}
        # the first read of a file on a virtual disk may be slower than any
        # later "cold" one (the host caches too): read it once, unmeasured,
        # so that every cold run below starts from the same state
        log('reading Data.fs once (unmeasured)')
        dd_read(fx.datafs, bs='4M')
        for r in range(args.runs):
            for name in peers + ours:
                log('run %d/%d: %s' % (r + 1, args.runs, name))
                samples[name].append(getattr(bench, name)())
        verified = bench.verify() if with_zodbfs else None
        report(fx, samples, with_zodbfs, args.runs, verified)
        if verified and not all(verified.values()):
            status = 1
    except KeyboardInterrupt:
        print('\nbench: interrupted', file=sys.stderr)
        status = 130
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if bench.nginx:
            bench.nginx.stop()
        bench.zope.stop()
        if bench.mount:
            bench.mount.unmount()
        if not (bench.mount and bench.mount.is_mounted()):
            shutil.rmtree(workdir, ignore_errors=True)
    m, sec = divmod(time.perf_counter() - t_start, 60)
    print('\nbench took %d min %02d s' % (m, sec))
    return status


if __name__ == '__main__':
    sys.exit(main())
