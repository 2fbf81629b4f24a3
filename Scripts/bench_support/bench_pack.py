#!/usr/bin/env python3
"""zodbfs pack benchmark: zodbfs's pack against Python's
``FileStorage.pack(t, referencesf)`` on identical copies of the same
Data.fs at the same pack time, two database shapes, measured in one run
and printed side by side.

Run through ``Scripts/bench_pack``.  Needs root: it drops the page cache
(``echo 3 > /proc/sys/vm/drop_caches``) and mounts through /dev/fuse.

- file-heavy: a ≥ 2 GiB Zope Data.fs of large ``OFS.Image.File``s (Pdata
  chains) with more than half of it garbage (replaced versions, deleted
  files); also a plain ``cp`` + ``sync`` of the packed output, cold, as the
  copy-bandwidth reference (target: pack ≤ 1.2× that);
- object-heavy: > 2 million small persistent objects and BTree buckets (a
  Plone catalog's shape) with history and more than half garbage (target:
  ≥ 10× faster than Python, peak RSS ≤ ½ of Python's);
- reads through a writable mount of (a copy of) the file-heavy store while
  ``echo now > MOUNT/.zodbfs/pack`` runs, against the same reads idle
  (target ≥ 50%).

Each pack starts with a dropped page cache and is timed until its output
is on disk (the command, then ``sync``; Python's pack does not fsync); the
peak RSS is the command's ``ru_maxrss`` as GNU time reports it, the same
for both (see ``measured`` for why not this script's own ``wait4``).
The packed files are then compared: byte for byte, else record by record.
The fixtures (``pack_fixtures.py``) are built once and kept under
var/bench-pack/fixtures/, keyed by their parameters; ``--small`` uses tiny
versions of both, for a quick smoke run.
"""

import argparse
import filecmp
import hashlib
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import bench  # noqa: E402  (shared: run, log, Row, table, mounts)
import pack_fixtures  # noqa: E402
from bench import MB, MiB, Row, log, proc_kib, run, table  # noqa: E402
from bench_write import WritableMount  # noqa: E402

WORK = os.path.join(bench.ROOT, 'var', 'bench-pack')
FIXTURES = os.path.join(WORK, 'fixtures')
RUNS = os.path.join(WORK, 'run')
PY = bench.VENV_PYTHON
BUILD_FIXTURE = os.path.join(HERE, 'pack_fixtures.py')
REFERENCE = os.path.join(bench.ROOT, 'Scripts', 'peers', 'pack_reference.py')
TIME = '/usr/bin/time'  # GNU time (Debian package "time", installed by install-packages --test)
GiB = 1 << 30


def fmt_s(v):
    return '—' if v is None else '{:,.2f} s'.format(v)


def fmt_mib(v):
    return '—' if v is None else '{:,.1f} MiB'.format(v)


def fmt_size(n):
    return '%.2f GiB' % (n / GiB) if n >= GiB else '%.1f MiB' % (n / MiB)


def disk_bytes_read(path):
    """Bytes read so far from the block device holding path
    (/sys/dev/block/MAJOR:MINOR/stat, sectors of 512 bytes): what a command
    read from the disk, program included, when nothing else runs."""
    dev = os.stat(path).st_dev
    with open('/sys/dev/block/%d:%d/stat' % (os.major(dev), os.minor(dev))) as f:
        return int(f.read().split()[2]) * 512


def drop_page_cache(sync=True):
    """Drop clean pages; with sync=False dirty pages (a running pack's
    output) are left alone rather than flushed first."""
    if sync:
        os.sync()
    with open('/proc/sys/vm/drop_caches', 'w') as f:
        f.write('3\n')


# --------------------------------------------------------------------------
# fixtures


class Fixture:
    def __init__(self, kind, small, directory, built_now):
        self.kind = kind
        self.small = small
        self.dir = directory
        self.datafs = os.path.join(directory, 'Data.fs')
        with open(os.path.join(directory, 'fixture.json')) as f:
            self.info = json.load(f)
        self.pack_time = self.info['pack_time']
        self.size = os.path.getsize(self.datafs)
        self.built_now = built_now


def ensure_fixture(kind, small, rebuild):
    directory = os.path.join(FIXTURES, pack_fixtures.key(kind, small))
    if rebuild or not os.path.exists(os.path.join(directory, 'fixture.json')):
        log('building the %s%s fixture (cached for later runs in %s)'
            % (kind, ' (small)' if small else '', os.path.relpath(directory, bench.ROOT)))
        tmp = directory + '.new'
        shutil.rmtree(tmp, ignore_errors=True)
        cmd = [PY, BUILD_FIXTURE, kind, tmp] + (['--small'] if small else [])
        run(cmd, stdout=subprocess.DEVNULL)
        shutil.rmtree(directory, ignore_errors=True)
        os.rename(tmp, directory)
        return Fixture(kind, small, directory, True)
    return Fixture(kind, small, directory, False)


def fresh_copy(fx, name):
    """A copy of the fixture's Data.fs and Data.fs.index in a directory of
    its own (what a pack leaves there is removed first)."""
    directory = os.path.join(RUNS, name)
    shutil.rmtree(directory, ignore_errors=True)
    os.makedirs(directory)
    for f in ('Data.fs', 'Data.fs.index'):
        shutil.copyfile(os.path.join(fx.dir, f), os.path.join(directory, f))
    return os.path.join(directory, 'Data.fs')


# --------------------------------------------------------------------------
# timed runs


class MemorySampler:
    """Samples the RssAnon and RssFile (KiB) of the command GNU time runs
    as process ``parent``, every 20 ms: how much of its peak RSS is its own
    memory and how much mapped file."""

    def __init__(self, parent):
        self.parent = parent
        self.pid = None
        self.peak = {'RssAnon': 0, 'RssFile': 0}
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _child(self):
        try:
            with open('/proc/%d/task/%d/children' % (self.parent, self.parent)) as f:
                children = f.read().split()
        except OSError:
            return None
        return int(children[0]) if children else None

    def _run(self):
        while not self.done.is_set():
            if self.pid is None:
                self.pid = self._child()
            if self.pid is not None:
                for field in self.peak:
                    self.peak[field] = max(self.peak[field], proc_kib(self.pid, field))
            time.sleep(0.02)

    def stop(self):
        self.done.set()
        self.thread.join()
        return {k: v / 1024 for k, v in self.peak.items()}


def measured(cmd, logfile):
    """Run cmd with a cold page cache; returns the seconds of the command,
    the seconds until its writes are on disk, the peak RSS in MiB and the
    sampled peaks of its anonymous and file-backed parts.

    The peak is ru_maxrss as GNU time reports it for its child. Taken from
    this script's own wait4 it would be wrong: a child's ru_maxrss starts
    from the RSS of the process it was forked from (the kernel records the
    old image's high-water mark at exec), and this Python process holds
    about 100 MiB, so every command measured at least that."""
    drop_page_cache()
    rss_file = logfile + '.maxrss'
    read_before = disk_bytes_read(os.path.dirname(logfile))
    with open(logfile, 'w') as out:
        start = time.perf_counter()
        p = subprocess.Popen([TIME, '-f', '%M', '-o', rss_file] + cmd, stdout=out, stderr=subprocess.STDOUT,
                             env=bench.ENV)
        sampler = MemorySampler(p.pid)
        p.wait()
        seconds = time.perf_counter() - start
        read = disk_bytes_read(os.path.dirname(logfile)) - read_before
        sampled = sampler.stop()
        os.sync()
        durable = time.perf_counter() - start
    if p.returncode != 0:
        raise RuntimeError('%s exited with %d: %s' % (' '.join(cmd[:3]), p.returncode, bench.tail(logfile)))
    with open(rss_file) as f:
        maxrss_kib = int(f.read().split()[-1])
    return {'seconds': seconds, 'durable': durable, 'rss': maxrss_kib / 1024, 'read': read / MiB,
            'anon': sampled['RssAnon'], 'file': sampled['RssFile']}


def pack_python(fx, store):
    r = measured([PY, REFERENCE, 'pack', store, repr(fx.pack_time)], store + '.python.log')
    with open(store + '.python.log') as f:
        r.update(json.loads(f.read().strip().splitlines()[-1]))
    r['packed'] = os.path.getsize(store)
    return r


def pack_zodbfs(fx, store, zodbfs):
    r = measured([zodbfs, 'pack', store, '--before', repr(fx.pack_time)], store + '.zodbfs.log')
    with open(store + '.zodbfs.log', errors='replace') as f:
        r['output'] = f.read()
    r['packed'] = os.path.getsize(store)
    return r


def cp_packed(source):
    """cp + sync of a packed Data.fs, cold: the copy-bandwidth reference.
    Returns its seconds and the MiB it read from the disk."""
    target = source + '.cp'
    if os.path.exists(target):
        os.unlink(target)
    drop_page_cache()
    read_before = disk_bytes_read(source)
    start = time.perf_counter()
    run(['cp', source, target])
    run(['sync', target])
    seconds = time.perf_counter() - start
    read = disk_bytes_read(source) - read_before
    os.unlink(target)
    return seconds, read / MiB


# --------------------------------------------------------------------------
# checks of zodbfs's packed file against Python's


def fstest(path):
    r = run([PY, '-m', 'ZODB.scripts.fstest', path], check=False,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return 'ok' if r.returncode == 0 else 'FAILED: ' + r.stdout.strip()[-500:]


def record_stream(path):
    from ZODB.FileStorage import FileStorage
    fs = FileStorage(path, read_only=True)
    try:
        for txn in fs.iterator():
            head = (txn.tid.hex(), txn.status, txn.user, txn.description, txn.extension_bytes)
            records = [(r.oid.hex(), r.tid.hex(),
                        None if r.data is None else hashlib.sha256(r.data).hexdigest())
                       for r in txn]
            yield head, records
    finally:
        fs.close()


def compare_packed(ours, theirs):
    """'byte-identical', or what differs between two packed files: the
    transactions (tid, status, user, description, extension) and every
    record (oid, tid, sha256 of the data, backpointers resolved), then
    the current revision of every oid."""
    if filecmp.cmp(ours, theirs, shallow=False):
        return True, 'byte-identical to Python\'s'
    problems = []
    a_txns = b_txns = a_recs = b_recs = 0
    first = None
    from itertools import zip_longest
    for a, b in zip_longest(record_stream(ours), record_stream(theirs)):
        if a is not None:
            a_txns += 1
            a_recs += len(a[1])
        if b is not None:
            b_txns += 1
            b_recs += len(b[1])
        if first is None and a != b:
            if a is None or b is None:
                first = 'transaction %d: only in %s' % (max(a_txns, b_txns), 'Python\'s' if a is None else 'zodbfs\'s')
            elif a[0] != b[0]:
                first = 'transaction %d (tid %s): header %r vs Python %r' % (a_txns, a[0][0], a[0], b[0])
            else:
                diff = [i for i, (x, y) in enumerate(zip_longest(a[1], b[1])) if x != y]
                i = diff[0]
                first = ('transaction %d (tid %s): %d of %d/%d records differ, first #%d: zodbfs %r, Python %r'
                         % (a_txns, a[0][0], len(diff), len(a[1]), len(b[1]), i,
                            a[1][i] if i < len(a[1]) else None, b[1][i] if i < len(b[1]) else None))
    if first:
        problems.append('first difference: ' + first)
    problems.append('zodbfs: %d transactions, %d records; Python: %d transactions, %d records'
                    % (a_txns, a_recs, b_txns, b_recs))
    same_state, state_note = compare_current(ours, theirs)
    problems.append(state_note)
    return (first is None and same_state), 'not byte-identical; ' + '; '.join(problems)


def compare_current(ours, theirs):
    """The oids each file holds and the current revision of each."""
    from ZODB.FileStorage import FileStorage
    from ZODB.POSException import POSKeyError
    from ZODB.utils import load_current

    def current(path):
        fs = FileStorage(path, read_only=True)
        out = {}
        try:
            for oid in fs._index.keys():
                try:
                    data, tid = load_current(fs, oid)
                    out[oid] = (tid, hashlib.sha256(data).digest())
                except POSKeyError:
                    out[oid] = None
        finally:
            fs.close()
        return out
    a, b = current(ours), current(theirs)
    missing = [k.hex() for k in b.keys() - a.keys()]
    extra = [k.hex() for k in a.keys() - b.keys()]
    changed = [k.hex() for k in a.keys() & b.keys() if a[k] != b[k]]
    if not (missing or extra or changed):
        return True, 'same %d oids with the same current revisions' % len(a)
    return False, ('current state differs: %d oids only in Python\'s (e.g. %s), %d only in zodbfs\'s '
                   '(e.g. %s), %d with another current revision (e.g. %s)'
                   % (len(missing), missing[:3], len(extra), extra[:3], len(changed), changed[:3]))


def index_check(path):
    """Does Python accept the Data.fs.index written next to path?"""
    from ZODB.FileStorage import FileStorage
    fs = FileStorage(path, read_only=True)
    try:
        return 'used by Python' if fs._used_index else 'NOT used by Python (rebuilt from the file)'
    finally:
        fs.close()


# --------------------------------------------------------------------------
# a pack through the mount while reading


def pack_running(text):
    """Whether the status text of .zodbfs/pack says a pack is running."""
    m = re.search(r'^\s*state\s*:\s*(\S+)', text, re.M | re.I)
    if m:
        return m.group(1).lower() == 'running'
    return re.search(r'\brunning\b', text, re.I) is not None


class StatusWatch:
    """Polls the pack status file from a thread of its own; remembers when
    it stopped saying running, the last status text, and the mount's
    VmRSS."""

    def __init__(self, path, pid):
        self.path = path
        self.pid = pid
        self.text = ''
        self.ended = None
        self.peak_kib = 0
        self.samples = 0
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._poll, daemon=True)

    def read(self):
        with open(self.path, errors='replace') as f:
            return f.read()

    def start(self):
        self.thread.start()
        return self

    def _poll(self):
        while not self._stop.is_set():
            self.text = self.read()
            self.samples += 1
            self.peak_kib = max(self.peak_kib, proc_kib(self.pid, 'VmRSS'))
            if not pack_running(self.text):
                self.ended = time.perf_counter()
                return
            time.sleep(0.05)

    def running(self):
        return self.ended is None

    def wait(self, timeout):
        self.thread.join(timeout)
        self._stop.set()
        return self.ended is not None


def is_mounted(path):
    with open('/proc/mounts') as f:
        return any(line.split()[1] == path for line in f)


def read_file(path, expect):
    n, seconds = bench.dd_read(path)
    if n != expect:
        raise RuntimeError('%s: read %d bytes, expected %d' % (path, n, expect))
    return n, seconds


def sha256_of(path, start=0, handle=None):
    h = hashlib.sha256()
    f = handle or open(path, 'rb')
    f.seek(start)
    for block in iter(lambda: f.read(1 << 20), b''):
        h.update(block)
    if handle is None:
        f.close()
    return h


def mount_reads(fx, count, verify):
    """Cold reads of the largest files through a writable mount: each
    twice idle, then round after round while the mount packs (``echo now
    > .zodbfs/pack``) until its status stops saying running; returns the
    figures.  With verify, the store packed through the mount is compared
    with Python's pack of another copy to the moment the command was
    written (every transaction of the fixture is older, so the pack time
    is the same as far as the data can tell)."""
    store = fresh_copy(fx, 'mounted')
    mnt = os.path.join(RUNS, 'mnt')
    os.makedirs(mnt, exist_ok=True)
    m = WritableMount(store, mnt, os.path.join(RUNS, 'mount.log')).fresh()
    try:
        files = fx.info['live_files'][:count]
        paths = [m.path(f['path']) for f in files]
        for p, f in zip(paths, files):
            read_file(p, f['size'])   # unmeasured: the chunk tables are built
        idle = []
        for _ in range(2):
            for p, f in zip(paths, files):
                drop_page_cache()
                idle.append(read_file(p, f['size']))
        # a handle opened before the pack, read across the swap
        held = open(paths[0], 'rb')
        half = files[0]['size'] // 2
        head = hashlib.sha256(held.read(half))
        rss_before = proc_kib(m.pid, 'VmRSS')
        control = m.path('.zodbfs/pack')
        drop_page_cache()
        pack_time = time.time()
        start = time.perf_counter()
        with open(control, 'w') as f:
            f.write('now\n')
        returned = time.perf_counter() - start
        watch = StatusWatch(control, m.pid).start()
        during = []     # (bytes, seconds, ended while running)
        i = 0
        while watch.running():
            p, f = paths[i % len(paths)], files[i % len(files)]
            drop_page_cache(sync=False)
            n, seconds = read_file(p, f['size'])
            during.append((n, seconds, watch.running()))
            i += 1
        if not watch.wait(3600):
            raise RuntimeError('the pack through the mount did not end within an hour')
        pack_seconds = watch.ended - start
        status = watch.read()
        held.seek(half)
        for block in iter(lambda: held.read(1 << 20), b''):
            head.update(block)
        held.close()
        handle_ok = head.hexdigest() == files[0]['sha256']
        after_ok = all(sha256_of(p).hexdigest() == f['sha256'] for p, f in zip(paths, files))
        rss_peak = watch.peak_kib
    finally:
        m.unmount()
    packed_size = os.path.getsize(store)
    check = fstest(store)
    compared = None
    if verify:
        log('mount: comparing the store packed through the mount with Python\'s pack')
        theirs = fresh_copy(fx, 'mounted-python')
        run([PY, REFERENCE, 'pack', theirs, repr(pack_time)], stdout=subprocess.DEVNULL)
        compared = compare_packed(store, theirs)[1]
        shutil.rmtree(os.path.dirname(theirs), ignore_errors=True)
    idle_mbps = sum(n for n, _ in idle) / sum(s for _, s in idle) / MB
    if during:
        during_mbps = sum(n for n, _, _ in during) / sum(s for _, s, _ in during) / MB
    else:
        during_mbps = None
    return {
        'idle_mbps': idle_mbps, 'during_mbps': during_mbps,
        'idle_reads': ['%.0f' % (n / s / MB) for n, s in idle],
        'during_reads': ['%.0f%s' % (n / s / MB, '' if r else '*') for n, s, r in during],
        'pack_seconds': pack_seconds, 'write_returned': returned,
        'status_after': status, 'polls': watch.samples,
        'handle_ok': handle_ok, 'after_ok': after_ok, 'fstest': check, 'compare': compared,
        'packed': packed_size, 'rss_before': rss_before / 1024, 'rss_peak': rss_peak / 1024,
        'files': [(f['path'], f['size']) for f in files],
    }


# --------------------------------------------------------------------------


def shape(fx, zodbfs, runs, verify):
    """Pack copies of one fixture with both, ``runs`` times; the medians,
    and the checks of the last zodbfs result against Python's."""
    ours, theirs, cps, cp_reads = [], [], [], []
    for r in range(runs):
        log('%s: run %d/%d: Python FileStorage.pack' % (fx.kind, r + 1, runs))
        py_store = fresh_copy(fx, fx.kind + '-python')
        theirs.append(pack_python(fx, py_store))
        log('%s: run %d/%d: zodbfs pack' % (fx.kind, r + 1, runs))
        z_store = fresh_copy(fx, fx.kind + '-zodbfs')
        ours.append(pack_zodbfs(fx, z_store, zodbfs))
        if fx.kind == 'files':
            log('%s: run %d/%d: cp + sync of the packed output' % (fx.kind, r + 1, runs))
            seconds, read = cp_packed(z_store)
            cps.append(seconds)
            cp_reads.append(read)
    out = {'ours': ours, 'theirs': theirs, 'cp': cps, 'cp_read': cp_reads}
    if verify:
        log('%s: comparing zodbfs\'s packed file with Python\'s' % fx.kind)
        same, note = compare_packed(z_store, py_store)
        out['same'] = same
        out['compare'] = note
        out['fstest'] = fstest(z_store)
        out['index'] = index_check(z_store)
        old = z_store + '.old'
        out['old'] = ('kept, %s' % ('the original' if os.path.exists(old) and
                                   os.path.getsize(old) == fx.size else 'NOT the original size'))
    return out


def med(samples, key):
    return statistics.median(s[key] for s in samples) if samples else None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--small', action='store_true',
                    default=os.environ.get('BENCH_PACK_SMALL') == '1',
                    help='tiny fixtures, for a quick smoke run (also BENCH_PACK_SMALL=1)')
    ap.add_argument('--runs', type=int, default=1, help='packs per shape and tool (medians)')
    ap.add_argument('--rebuild', action='store_true', help='rebuild the fixtures even if cached')
    ap.add_argument('--only', choices=('files', 'objects', 'mount'), action='append',
                    help='run only these parts (repeatable)')
    ap.add_argument('--no-verify', action='store_true',
                    help='skip comparing the packed files with Python\'s')
    ap.add_argument('--zodbfs', default=bench.ZODBFS, help='the zodbfs binary')
    ap.add_argument('--reads', type=int, default=3, help='large files read through the mount')
    ap.add_argument('--keep', action='store_true', help='keep the packed copies in var/bench-pack/run/')
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit('bench_pack: run as root (it drops the page cache and mounts through /dev/fuse)')
    if not os.access(args.zodbfs, os.X_OK):
        sys.exit('bench_pack: %s missing; run Scripts/bench_pack (it builds it)' % args.zodbfs)
    parts = args.only or ['files', 'objects', 'mount']
    bench.ZODBFS = args.zodbfs  # the mounts use it too

    def terminate(signum, frame):
        raise KeyboardInterrupt
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, terminate)

    t_start = time.perf_counter()
    os.makedirs(RUNS, exist_ok=True)
    fixtures = {}
    for kind in ('files', 'objects'):
        if kind in parts or (kind == 'files' and 'mount' in parts):
            fixtures[kind] = ensure_fixture(kind, args.small, args.rebuild)
    results = {}
    verify = not args.no_verify
    try:
        if 'files' in parts:
            results['files'] = shape(fixtures['files'], args.zodbfs, args.runs, verify)
        if 'objects' in parts:
            results['objects'] = shape(fixtures['objects'], args.zodbfs, args.runs, verify)
        if 'mount' in parts:
            log('reads through a writable mount, idle and during a pack')
            results['mount'] = mount_reads(fixtures['files'], args.reads, verify)
    except KeyboardInterrupt:
        print('\nbench_pack: interrupted', file=sys.stderr)
        return 130
    finally:
        if not args.keep:
            for kind in ('files', 'objects'):
                for tool in ('python', 'zodbfs'):
                    shutil.rmtree(os.path.join(RUNS, '%s-%s' % (kind, tool)), ignore_errors=True)
            if not is_mounted(os.path.join(RUNS, 'mnt')):
                shutil.rmtree(os.path.join(RUNS, 'mounted'), ignore_errors=True)

    report(fixtures, results, args)
    m, sec = divmod(time.perf_counter() - t_start, 60)
    print('\nbench_pack took %d min %02d s' % (m, sec))
    failed = [k for k in ('files', 'objects') if k in results and results[k].get('same') is False]
    return 1 if failed else 0


def describe(fx, res):
    i = fx.info
    how = ('built in %.0f s just now' if fx.built_now else 'cached, built in %.0f s') % i['build_seconds']
    packed = med(res['theirs'], 'packed') if res else None
    garbage = ', %.0f%% garbage (1 − Python\'s packed size / size)' % (100 * (1 - packed / fx.size)) if packed else ''
    return ('%s: %s, Data.fs %s: %s transactions, %s records, %s oids%s; pack time %.6f (%s, stop tid %s); %s'
            % ({'files': 'file-heavy', 'objects': 'object-heavy'}[fx.kind],
               os.path.relpath(fx.dir, bench.ROOT), fmt_size(fx.size),
               '{:,}'.format(i['transactions']), '{:,}'.format(i['records']), '{:,}'.format(i['objects']),
               garbage, fx.pack_time,
               time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(fx.pack_time)),
               res['theirs'][-1]['stop'] if res else '?', how))


def paired_ratios(r):
    """zodbfs's pack time over cp's, round by round: this disk's throughput
    changes from minute to minute, so only runs close in time compare."""
    return [s['durable'] / c for s, c in zip(r['ours'], r['cp'])]


def report(fixtures, results, args):
    rows = []
    faster = 'ratio ≤ 0.10 (≥ 10× faster)'
    if 'files' in results:
        r = results['files']
        ours, theirs = med(r['ours'], 'durable'), med(r['theirs'], 'durable')
        # cp runs right after zodbfs's pack in each round: the ratio is the
        # median of the rounds' ratios (see paired_ratios)
        rows += [
            Row('file-heavy: pack, until on disk', ours, 'Python', theirs, fmt_s),
            Row('file-heavy: pack vs cp + sync of the output', ours, 'cp', statistics.median(r['cp']),
                fmt_s, target='≤ 1.2×', check=lambda v, x: x is not None and x <= 1.2,
                ratio=statistics.median(paired_ratios(r)) if r['cp'] else None),
            Row('file-heavy: pack, read from the disk', med(r['ours'], 'read'), 'cp',
                statistics.median(r['cp_read']) if r['cp_read'] else None, fmt_mib),
            Row('file-heavy: pack, peak RSS', med(r['ours'], 'rss'), 'Python',
                med(r['theirs'], 'rss'), fmt_mib),
        ]
    if 'objects' in results:
        r = results['objects']
        rows += [
            Row('object-heavy: pack, until on disk', med(r['ours'], 'durable'), 'Python',
                med(r['theirs'], 'durable'), fmt_s, target=faster,
                check=lambda v, x: x is not None and x <= 0.10),
            Row('object-heavy: pack, peak RSS', med(r['ours'], 'rss'), 'Python',
                med(r['theirs'], 'rss'), fmt_mib, target='ratio ≤ 0.50',
                check=lambda v, x: x is not None and x <= 0.50),
        ]
    if 'mount' in results:
        r = results['mount']
        rows.append(Row('read through the mount during a pack', r['during_mbps'], 'idle',
                        r['idle_mbps'], bench.fmt_mbps, target='≥ 0.50×',
                        check=lambda v, x: x is not None and x >= 0.5))
    print(bench.machine_info())
    for kind in ('files', 'objects'):
        if kind in fixtures:
            print(describe(fixtures[kind], results.get(kind)))
    print()
    print(table(rows))
    print()
    print('Packs start with a dropped page cache; "until on disk" = the pack command, then sync '
          '(Python\'s pack does not fsync). Peak RSS: ru_maxrss of the command (GNU time). '
          'zodbfs/peer: lower is better for times and memory, higher for MB/s. MB = 10^6 bytes.')
    for kind in ('files', 'objects'):
        if kind not in results:
            continue
        r = results[kind]
        name = {'files': 'file-heavy', 'objects': 'object-heavy'}[kind]
        print()
        print('%s, per run:' % name)
        for who, samples in (('zodbfs', r['ours']), ('Python', r['theirs'])):
            print('  %-7s command %s, with sync %s, read from the disk %s, peak RSS %s (sampled peaks: anonymous %s, '
                  'mapped file %s), packed to %s'
                  % (who, ', '.join(fmt_s(s['seconds']) for s in samples),
                     ', '.join(fmt_s(s['durable']) for s in samples),
                     ', '.join(fmt_mib(s['read']) for s in samples),
                     ', '.join(fmt_mib(s['rss']) for s in samples),
                     ', '.join(fmt_mib(s['anon']) for s in samples),
                     ', '.join(fmt_mib(s['file']) for s in samples),
                     ', '.join('{:,} bytes'.format(s['packed']) for s in samples)))
        if r['cp']:
            print('  cp + sync of zodbfs\'s packed output (%s): %s, read from the disk %s; zodbfs/cp by round: %s'
                  % (fmt_size(r['ours'][-1]['packed']), ', '.join(fmt_s(s) for s in r['cp']),
                     ', '.join(fmt_mib(s) for s in r['cp_read']),
                     ', '.join('%.2f×' % x for x in paired_ratios(r))))
        if 'compare' in r:
            print('  zodbfs\'s packed Data.fs: %s' % r['compare'])
            print('  fstest: %s; Data.fs.index: %s; Data.fs.old: %s' % (r['fstest'], r['index'], r['old']))
        said = r['ours'][-1]['output'].strip()
        if said:
            print('  zodbfs pack printed:')
            for line in said.splitlines()[-8:]:
                print('    ' + line)
    if 'mount' in results:
        r = results['mount']
        print()
        print('reads through the mount (cold, page cache dropped before each; MB/s): files %s'
              % ', '.join('%s (%s)' % (p, fmt_size(n)) for p, n in r['files']))
        print('  idle: %s' % ', '.join(r['idle_reads']))
        print('  during the pack: %s%s' % (', '.join(r['during_reads']) or 'none (the pack ended first)',
                                           '  (* ended after the pack)' if any('*' in x for x in r['during_reads']) else ''))
        print('  echo now > .zodbfs/pack returned in %s; the status said running for %s (%d polls); '
              'mount RSS %s before, %s peak during the pack'
              % (fmt_s(r['write_returned']), fmt_s(r['pack_seconds']), r['polls'],
                 fmt_mib(r['rss_before']), fmt_mib(r['rss_peak'])))
        print('  a handle opened before the pack read correct bytes across it: %s; the files read '
              'after it: %s; the store afterwards: %s, fstest %s'
              % ('yes' if r['handle_ok'] else 'NO', 'correct' if r['after_ok'] else 'WRONG',
                 fmt_size(r['packed']), r['fstest']))
        if r['compare']:
            print('  the store packed through the mount: %s' % r['compare'])
        print('  status after the pack:')
        for line in r['status_after'].strip().splitlines():
            print('    ' + line)


if __name__ == '__main__':
    sys.exit(main())
