#!/usr/bin/env python3
"""zodbfs backup benchmark: zodbfs backup/restore against Python's repozo
on the same ≥ 2 GiB Data.fs, in one run, side by side.

Run through ``Scripts/bench_backup``.  Steps, each timed for both tools
(wall time): a full backup (plain and gzip), 10 MiB added through Zope, a
checked incremental, a ``--quick`` incremental and a gzip incremental, then
a restore (plain and gzip); and a plain ``cp`` + ``sync`` of the Data.fs
as the reference for the full backup and the restore.
"""

import os
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import bench  # noqa: E402
from bench import Row, log, run, table  # noqa: E402

WORK = os.path.join(bench.ROOT, 'var', 'bench-backup')
STORE = os.path.join(WORK, 'Data.fs')
ZODBFS = bench.ZODBFS
PY = bench.VENV_PYTHON
APPEND = os.path.join(bench.ROOT, 'Scripts', 'fixtures', 'append_file.py')
GiB = 1 << 30


def timed(cmd):
    start = time.perf_counter()
    run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def append(name, size):
    source = os.path.join(WORK, name)
    with open(source, 'wb') as f:
        f.write(os.urandom(size))
    run([PY, APPEND, STORE, '', name, source, '--from-file'], stdout=subprocess.DEVNULL)
    os.unlink(source)


def prepare():
    os.makedirs(WORK, exist_ok=True)
    if os.path.exists(STORE) and os.path.getsize(STORE) >= 2 * GiB:
        return
    base = os.path.join(bench.FIXTURE_DIR, 'Data.fs')
    if not os.path.exists(base):
        sys.exit('bench_backup: run Scripts/bench once first (it builds var/bench/fixture)')
    log('making a ≥ 2 GiB store: the bench fixture plus 900 MiB added through Zope')
    shutil.copy(base, STORE)
    shutil.copy(base + '.index', STORE + '.index')
    append('filler.bin', 900 << 20)


def repo(name):
    path = os.path.join(WORK, name)
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)
    return path


def main():
    if len(sys.argv) > 1 and sys.argv[1] in ('-h', '--help'):
        print(__doc__)
        return
    prepare()
    size = os.path.getsize(STORE)
    log('store: %.2f GiB' % (size / GiB))
    ours, theirs = {}, {}
    plain = os.path.join(WORK, 'plain-copy.fs')
    bench.drop_caches()
    start = time.perf_counter()
    run(['cp', STORE, plain])
    run(['sync', plain])
    cp_seconds = time.perf_counter() - start
    os.unlink(plain)

    a, b, aq, bq, az, bz = (repo(n) for n in ('ours', 'repozo', 'ours-q', 'repozo-q', 'ours-z', 'repozo-z'))
    repozo = [PY, '-m', 'ZODB.scripts.repozo']
    log('full backups')
    bench.drop_caches()
    ours['full'] = timed([ZODBFS, 'backup', STORE, '--repository', a, '--full'])
    bench.drop_caches()
    theirs['full'] = timed(repozo + ['-B', '-F', '-r', b, '-f', STORE])
    timed([ZODBFS, 'backup', STORE, '--repository', aq, '--full'])
    timed(repozo + ['-B', '-F', '-r', bq, '-f', STORE])
    ours['full gzip'] = timed([ZODBFS, 'backup', STORE, '--repository', az, '--full', '--gzip'])
    theirs['full gzip'] = timed(repozo + ['-B', '-F', '-z', '-r', bz, '-f', STORE])
    time.sleep(1.1)
    log('adding 10 MiB through Zope')
    append('ten-mib.bin', 10 << 20)
    log('incremental backups')
    bench.drop_caches()
    ours['incremental (checked)'] = timed([ZODBFS, 'backup', STORE, '--repository', a])
    bench.drop_caches()
    theirs['incremental (checked)'] = timed(repozo + ['-B', '-r', b, '-f', STORE])
    ours['incremental --quick'] = timed([ZODBFS, 'backup', STORE, '--repository', aq, '--quick'])
    theirs['incremental --quick'] = timed(repozo + ['-B', '-Q', '-r', bq, '-f', STORE])
    ours['incremental gzip'] = timed([ZODBFS, 'backup', STORE, '--repository', az, '--gzip'])
    theirs['incremental gzip'] = timed(repozo + ['-B', '-z', '-r', bz, '-f', STORE])
    log('restores')
    out_a, out_b = os.path.join(WORK, 'restored-ours.fs'), os.path.join(WORK, 'restored-repozo.fs')
    bench.drop_caches()
    ours['restore'] = timed([ZODBFS, 'restore', '--repository', a, '--output', out_a])
    bench.drop_caches()
    theirs['restore'] = timed(repozo + ['-R', '-r', b, '-o', out_b])
    ours['restore gzip'] = timed([ZODBFS, 'restore', '--repository', az, '--output', out_a])
    theirs['restore gzip'] = timed(repozo + ['-R', '-r', bz, '-o', out_b])
    identical = run(['cmp', out_a, STORE], check=False).returncode == 0
    for path in (out_a, out_b, out_a + '.index', out_b + '.index'):
        if os.path.exists(path):
            os.unlink(path)

    def fmt(v):
        return '—' if v is None else '{:.2f} s'.format(v)

    # Wall times: the ratio column is zodbfs's time over the peer's, so
    # "≥ 3× faster" is a ratio ≤ 0.33 and "≥ 80% of cp" a ratio ≤ 1.25.
    rows = [Row(key + ' (s)', ours[key], 'repozo', theirs[key], fmt, target='≥ 3× faster (≤ 0.33×)',
                check=lambda v, ratio: ratio is not None and ratio <= 1 / 3) for key in ours]
    rows.append(Row('full backup vs cp + sync (s)', ours['full'], 'cp', cp_seconds, fmt,
                    target='≥ 80% of cp (≤ 1.25×)', check=lambda v, ratio: ratio <= 1.25))
    rows.append(Row('restore vs cp + sync (s)', ours['restore'], 'cp', cp_seconds, fmt,
                    target='≥ 80% of cp (≤ 1.25×)', check=lambda v, ratio: ratio <= 1.25))
    rows.append(Row('--quick incremental of 10 MiB (s)', ours['incremental --quick'], None, None, fmt,
                    target='≤ 1 s', check=lambda v, ratio: v <= 1))
    print(bench.machine_info())
    print('store %.2f GiB; plain cp + sync %.2f s; zodbfs restore byte-identical: %s' % (size / GiB, cp_seconds, identical))
    print()
    print(table(rows))


if __name__ == '__main__':
    main()
