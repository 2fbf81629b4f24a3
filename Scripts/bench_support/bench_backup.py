#!/usr/bin/env python3
"""zodbfs backup benchmark: zodbfs backup/restore against Python's repozo
on the same >= 2 GiB Data.fs, in one run, side by side.

Run through ``Scripts/bench_backup`` (root: it drops the page cache).
Every timed command starts with a cold page cache, and each measurement
alternates zodbfs and repozo within a round; the table shows medians of
``--runs`` rounds (wall time).  A round: full backups (plain and gzip);
10 MiB added through Zope; a checked incremental, a ``--quick`` one and a
gzip one; restores (plain and gzip, both checked byte for byte against
the store; repozo's restores are also timed with a ``sync`` of their
output, as zodbfs fsyncs what it restores).  References: ``cp`` + ``sync``
of the Data.fs, and one cold read of it (``cat > /dev/null``).

    bench_backup.py [--runs N]

``ZODBFS_BINARY`` overrides the zodbfs binary (default: the release build).
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import bench  # noqa: E402
from bench import Row, log, run, table  # noqa: E402

WORK = os.path.join(bench.ROOT, 'var', 'bench-backup')
STORE = os.path.join(WORK, 'Data.fs')
ZODBFS = os.environ.get('ZODBFS_BINARY', bench.ZODBFS)
PY = bench.VENV_PYTHON
REPOZO = [PY, '-m', 'ZODB.scripts.repozo']
APPEND = os.path.join(bench.ROOT, 'Scripts', 'fixtures', 'append_file.py')
GiB = 1 << 30


def timed(cmd):
    """Wall time of one command, started with a cold page cache."""
    bench.drop_caches()
    start = time.perf_counter()
    run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def append(name, size):
    source = os.path.join(WORK, 'append-source.bin')
    with open(source, 'wb') as f:
        f.write(os.urandom(size))
    run([PY, APPEND, STORE, '', name, source, '--from-file'], stdout=subprocess.DEVNULL)
    os.unlink(source)


def prepare():
    os.makedirs(WORK, exist_ok=True)
    if os.path.exists(STORE) and os.path.getsize(STORE) >= 2 * GiB:
        return
    # The fixture Scripts/bench uses (var/bench/fixture), built here when
    # that benchmark has not run yet.
    base = bench.ensure_fixture(False).datafs
    log('making a >= 2 GiB store: the bench fixture plus 900 MiB added through Zope')
    shutil.copy(base, STORE)
    shutil.copy(base + '.index', STORE + '.index')
    append('filler.bin', 900 << 20)


def repo(name):
    path = os.path.join(WORK, name)
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)
    return path


def fork(source, name):
    """A second repository with the same backups (hard links; the .dat
    copied, as increments append to it)."""
    path = os.path.join(WORK, name)
    shutil.rmtree(path, ignore_errors=True)
    run(['cp', '-al', source, path])
    for f in os.listdir(path):
        if f.endswith('.dat'):
            data = open(os.path.join(path, f), 'rb').read()
            os.unlink(os.path.join(path, f))
            open(os.path.join(path, f), 'wb').write(data)
    return path


def du(path):
    return sum(os.path.getsize(os.path.join(path, f)) for f in os.listdir(path)
               if f.endswith(('fs', 'fsz')))


def one_round(results):
    def both(key, ours_cmd, repozo_cmd):
        results.setdefault(key, ([], []))
        results[key][0].append(timed(ours_cmd))
        results[key][1].append(timed(repozo_cmd))

    plain = os.path.join(WORK, 'plain-copy.fs')
    results.setdefault('cp + sync', ([], []))
    bench.drop_caches()
    start = time.perf_counter()
    run(['cp', STORE, plain])
    run(['sync', plain])
    results['cp + sync'][0].append(time.perf_counter() - start)
    os.unlink(plain)
    results.setdefault('cold read', ([], []))
    results['cold read'][0].append(timed(['sh', '-c', 'cat "$0" > /dev/null', STORE]))

    a, b, az, bz = (repo(n) for n in ('ours', 'repozo', 'ours-z', 'repozo-z'))
    log('full backups')
    both('full', [ZODBFS, 'backup', STORE, '--repository', a, '--full'], REPOZO + ['-B', '-F', '-r', b, '-f', STORE])
    both('full gzip', [ZODBFS, 'backup', STORE, '--repository', az, '--full', '--gzip'],
         REPOZO + ['-B', '-F', '-z', '-r', bz, '-f', STORE])
    results.setdefault('gzip size', ([], []))
    results['gzip size'][0].append(du(az))
    results['gzip size'][1].append(du(bz))
    aq, bq = fork(a, 'ours-q'), fork(b, 'repozo-q')
    time.sleep(1.1)
    log('adding 10 MiB through Zope')
    append('ten-mib-%d.bin' % time.time_ns(), 10 << 20)
    log('incremental backups')
    both('incremental (checked)', [ZODBFS, 'backup', STORE, '--repository', a], REPOZO + ['-B', '-r', b, '-f', STORE])
    both('incremental --quick', [ZODBFS, 'backup', STORE, '--repository', aq, '--quick'],
         REPOZO + ['-B', '-Q', '-r', bq, '-f', STORE])
    both('incremental gzip', [ZODBFS, 'backup', STORE, '--repository', az, '--gzip'],
         REPOZO + ['-B', '-z', '-r', bz, '-f', STORE])
    log('restores')
    out_a, out_b = os.path.join(WORK, 'restored-ours.fs'), os.path.join(WORK, 'restored-repozo.fs')
    identical = []
    for key, ra, rb in (('restore', a, b), ('restore gzip', az, bz)):
        both(key, [ZODBFS, 'restore', '--repository', ra, '--output', out_a], REPOZO + ['-R', '-r', rb, '-o', out_b])
        # repozo -R does not fsync what it restored; zodbfs restore does.
        results.setdefault(key + ' + sync', ([], []))
        os.unlink(out_b)
        results[key + ' + sync'][1].append(timed(['sh', '-c', '"$@" && sync "$0"', out_b] + REPOZO + ['-R', '-r', rb, '-o', out_b]))
        results[key + ' + sync'][0].append(results[key][0][-1])
        identical.append(run(['cmp', '-s', out_a, STORE], check=False).returncode == 0
                         and run(['cmp', '-s', out_b, STORE], check=False).returncode == 0)
        for path in (out_a, out_b, out_a + '.index', out_b + '.index'):
            if os.path.exists(path):
                os.unlink(path)
    for path in (aq, bq):
        shutil.rmtree(path, ignore_errors=True)
    return all(identical)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--runs', type=int, default=3)
    args = parser.parse_args()
    prepare()
    results = {}
    identical = True
    for number in range(args.runs):
        log('round %d of %d' % (number + 1, args.runs))
        identical = one_round(results) and identical
    size = os.path.getsize(STORE)

    def median(key, which):
        values = results[key][which]
        return statistics.median(values) if values else None

    def fmt(v):
        return '—' if v is None else '{:.2f} s'.format(v)

    def mb(v):
        return '—' if v is None else '{:.0f} MB'.format(v / 1e6)

    cp = median('cp + sync', 0)
    cold = median('cold read', 0)
    faster = dict(target='≥ 3× faster (≤ 0.33×)', check=lambda v, ratio: ratio is not None and ratio <= 1 / 3)
    rows = [Row(key + ' (s)', median(key, 0), 'repozo', median(key, 1), fmt, **faster)
            for key in ('full', 'full gzip', 'incremental (checked)', 'incremental --quick', 'incremental gzip',
                        'restore', 'restore gzip')]
    rows += [Row(key + ' (s)', median(key, 0), 'repozo+sync', median(key, 1), fmt)
             for key in ('restore + sync', 'restore gzip + sync')]
    rows.append(Row('gzip full backup size', median('gzip size', 0), 'repozo', median('gzip size', 1), mb))
    rows.append(Row('full backup vs cp + sync (s)', median('full', 0), 'cp', cp, fmt,
                    target='≥ 80% of cp (≤ 1.25×)', check=lambda v, ratio: ratio <= 1.25))
    rows.append(Row('restore vs cp + sync (s)', median('restore', 0), 'cp', cp, fmt,
                    target='≥ 80% of cp (≤ 1.25×)', check=lambda v, ratio: ratio <= 1.25))
    rows.append(Row('checked incremental vs one read (s)', median('incremental (checked)', 0), 'cat', cold, fmt,
                    target='no slower (≤ 1×)', check=lambda v, ratio: ratio <= 1))
    rows.append(Row('--quick incremental of 10 MiB (s)', median('incremental --quick', 0), None, None, fmt,
                    target='≤ 1 s', check=lambda v, ratio: v <= 1))
    print(bench.machine_info())
    print('store %.2f GiB; medians of %d round(s), each command with a cold page cache; '
          'restores byte-identical to the store (zodbfs and repozo): %s'
          % (size / GiB, args.runs, identical))
    print()
    print(table(rows))


if __name__ == '__main__':
    main()
