#!/usr/bin/env python3
"""zodbfs write benchmark (issue: transactional writes): uploads and small
files through a writable mount, next to the same work on a plain directory
of the same disk and Zope's own ingest, measured in one run.

Run through ``Scripts/bench_write``.  Needs root (mounts through /dev/fuse).

- large upload: ``cp`` of a 1 GiB file into the mount (close returns once
  the transaction is durable) against ``cp`` + ``sync FILE`` into a plain
  directory (the same durability) and against Zope's ``manage_addFile``
  reading the same file (``zope_ingest.py``); plus the mount process's RSS
  growth during the upload (VmHWM after − VmRSS before);
- small files: ``tar x`` of 10,000 files (100 folders × 100 files of
  0.1–8 KiB) into the mount against ``tar x`` into a plain directory.

Rounds alternate zodbfs and its peers; medians are reported.  MB/s are
10^6 bytes per second.  Each 1 GiB copy starts right after 3 GiB of memory
was touched and freed (``warm_memory.py`` says why).
"""

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import bench  # noqa: E402  (shared helpers: run, log, Row, table, median, mounts)
from bench import MB, MiB, Row, log, median, proc_kib, run, table  # noqa: E402
from warm_memory import touch_and_free  # noqa: E402

WORK = os.path.join(bench.ROOT, 'var', 'bench-write')
SOURCE = os.path.join(WORK, 'source-1GiB.bin')
TARBALL = os.path.join(WORK, 'small-files.tar')
BASE = os.path.join(WORK, 'base')
INGEST = os.path.join(HERE, 'zope_ingest.py')
LARGE = 1 << 30
WARM = 3 << 30  # memory touched and freed before each 1 GiB copy
SMALL_FILES = 10_000


class WritableMount(bench.ZodbfsMount):
    def fresh(self):
        self.unmount()
        with open(self.logfile, 'a') as logf:
            self.proc = subprocess.Popen(
                [bench.ZODBFS, 'mount', self.store, self.mountpoint, '-f'],
                stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT,
                start_new_session=True)
        deadline = time.time() + 60
        while not self.is_mounted():
            if self.proc.poll() is not None or time.time() > deadline:
                self.unmount()
                raise RuntimeError('zodbfs mount failed: %s' % bench.tail(self.logfile))
            time.sleep(0.02)
        return self


def prepare():
    os.makedirs(WORK, exist_ok=True)
    if not os.path.exists(SOURCE) or os.path.getsize(SOURCE) != LARGE:
        log('writing a 1 GiB source file')
        with open(SOURCE + '.tmp', 'wb') as f:
            for _ in range(LARGE // (64 * MiB)):
                f.write(os.urandom(64 * MiB))
        os.rename(SOURCE + '.tmp', SOURCE)
    if not os.path.exists(TARBALL):
        log('making a tarball of %d small files' % SMALL_FILES)
        tree = os.path.join(WORK, 'small-tree')
        shutil.rmtree(tree, ignore_errors=True)
        rnd = random.Random(1)
        for d in range(100):
            folder = os.path.join(tree, 'dir-%03d' % d)
            os.makedirs(folder)
            for i in range(SMALL_FILES // 100):
                with open(os.path.join(folder, 'file-%03d.txt' % i), 'wb') as f:
                    f.write(os.urandom(rnd.randint(100, 8192)))
        run(['tar', 'cf', TARBALL, '-C', tree, '.'])
        shutil.rmtree(tree)
    if not os.path.exists(os.path.join(BASE, 'Data.fs')):
        log('building a small Zope database to write into')
        shutil.rmtree(BASE, ignore_errors=True)
        run([bench.VENV_PYTHON, bench.BUILDER, '--output', BASE, '--scale', 'small'],
            stdout=subprocess.DEVNULL)


def fresh_store(name):
    store = os.path.join(WORK, name)
    shutil.rmtree(store, ignore_errors=True)
    os.makedirs(store)
    shutil.copy(os.path.join(BASE, 'Data.fs'), os.path.join(store, 'Data.fs'))
    shutil.copy(os.path.join(BASE, 'Data.fs.index'), os.path.join(store, 'Data.fs.index'))
    return os.path.join(store, 'Data.fs')


def warm_source():
    run(['cat', SOURCE], stdout=subprocess.DEVNULL)


def plain_cp():
    target = os.path.join(WORK, 'plain', 'copy.bin')
    shutil.rmtree(os.path.dirname(target), ignore_errors=True)
    os.makedirs(os.path.dirname(target))
    warm_source()
    touch_and_free(WARM)
    start = time.perf_counter()
    run(['cp', SOURCE, target])
    run(['sync', target])
    seconds = time.perf_counter() - start
    shutil.rmtree(os.path.dirname(target))
    return {'mbps': LARGE / MB / seconds}


def mount_cp():
    store = fresh_store('mounted')
    mnt = os.path.join(WORK, 'mnt')
    os.makedirs(mnt, exist_ok=True)
    m = WritableMount(store, mnt, os.path.join(WORK, 'mount.log')).fresh()
    try:
        warm_source()
        touch_and_free(WARM)
        before = proc_kib(m.pid, 'VmRSS')
        start = time.perf_counter()
        run(['cp', SOURCE, m.path('files/upload.bin')])
        seconds = time.perf_counter() - start
        peak = proc_kib(m.pid, 'VmHWM')
        size = os.path.getsize(m.path('files/upload.bin'))
        assert size == LARGE, size
    finally:
        m.unmount()
    return {'mbps': LARGE / MB / seconds, 'rss_growth_mib': max(0, peak - before) / 1024}


def zope_ingest():
    store = fresh_store('zope')
    warm_source()
    out = run([bench.VENV_PYTHON, INGEST, store, SOURCE], stdout=subprocess.PIPE, text=True).stdout
    result = json.loads(out)
    return {'mbps': result['bytes'] / MB / result['seconds'], 'peak_rss_mib': result['peak_rss_kib'] / 1024}


def plain_tar():
    target = os.path.join(WORK, 'plain-tar')
    shutil.rmtree(target, ignore_errors=True)
    os.makedirs(target)
    start = time.perf_counter()
    run(['tar', 'xf', TARBALL, '-C', target])
    seconds = time.perf_counter() - start
    shutil.rmtree(target)
    return {'files_per_s': SMALL_FILES / seconds}


def mount_tar():
    store = fresh_store('mounted-tar')
    mnt = os.path.join(WORK, 'mnt')
    os.makedirs(mnt, exist_ok=True)
    m = WritableMount(store, mnt, os.path.join(WORK, 'mount.log')).fresh()
    try:
        os.mkdir(m.path('unpacked'))
        start = time.perf_counter()
        run(['tar', 'xf', TARBALL, '-C', m.path('unpacked')])
        seconds = time.perf_counter() - start
        count = sum(len(files) for _, _, files in os.walk(m.path('unpacked')))
        assert count == SMALL_FILES, count
    finally:
        m.unmount()
    return {'files_per_s': SMALL_FILES / seconds}


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--runs', type=int, default=3)
    args = p.parse_args()
    if os.geteuid() != 0:
        sys.exit('bench_write: run as root (it mounts through /dev/fuse)')
    prepare()
    samples = {k: [] for k in ('plain_cp', 'mount_cp', 'zope', 'plain_tar', 'mount_tar')}
    for r in range(args.runs):
        log('round %d of %d' % (r + 1, args.runs))
        samples['mount_cp'].append(mount_cp())
        samples['plain_cp'].append(plain_cp())
        samples['zope'].append(zope_ingest())
        samples['mount_tar'].append(mount_tar())
        samples['plain_tar'].append(plain_tar())
    fmt_mbps = bench.fmt_mbps

    def fmt_files(v):
        return '—' if v is None else '{:,.0f} files/s'.format(v)

    def fmt_mib(v):
        return '—' if v is None else '{:.0f} MiB'.format(v)

    ours = median(samples['mount_cp'], 'mbps')
    rows = [
        Row('1 GiB cp into the mount vs cp + sync to disk', ours, 'plain',
            median(samples['plain_cp'], 'mbps'), fmt_mbps, target='≥ 0.40×',
            check=lambda v, r: r is not None and r >= 0.40),
        Row('1 GiB cp into the mount vs Zope manage_addFile', ours, 'Zope',
            median(samples['zope'], 'mbps'), fmt_mbps, target='≥ 3×',
            check=lambda v, r: r is not None and r >= 3),
        Row('tar x of 10,000 small files', median(samples['mount_tar'], 'files_per_s'), 'plain',
            median(samples['plain_tar'], 'files_per_s'), fmt_files, target='≥ 1,000 files/s',
            check=lambda v, r: v >= 1000),
        Row('RSS growth during the 1 GiB upload', median(samples['mount_cp'], 'rss_growth_mib'), 'Zope peak RSS',
            median(samples['zope'], 'peak_rss_mib'), fmt_mib, target='< 64 MiB',
            check=lambda v, r: v < 64),
    ]
    print(bench.machine_info())
    print()
    print(table(rows))
    print()
    print('runs: %d; per-run figures:' % args.runs)
    for key, values in samples.items():
        print('  %-10s %s' % (key, values))


if __name__ == '__main__':
    main()
