"""Many processes reading and writing through one mount at once, for a
bounded time: no deadlock, no wrong bytes, the daemon's memory stable.

    concurrency.py MOUNT FOLDER --processes N --seconds S [--check PATH=SHA256 ...]

Each worker creates, rewrites, appends to, renames, reads back and
removes its own files in FOLDER (a folder of the mount all workers share,
so their commits contend for it), and reads the --check files (stored
files with a known sha256) whole. Every read is compared with what the
worker knows the file holds. The daemon serving MOUNT is found in /proc
and its RSS sampled every 0.5 s.

Prints a JSON summary: ops and errors per kind, mismatches, the files each
worker left (name -> sha256), RSS samples in KiB. Exits 1 on any mismatch
or error.
"""
import argparse
import hashlib
import json
import multiprocessing
import os
import random
import sys
import time


def body(seed, size):
    rng = random.Random(seed)
    return rng.randbytes(size)


def worker(index, folder, seconds, checks, queue):
    rng = random.Random(index)
    mine = {}  # name -> bytes
    counts = {}
    errors = []
    mismatches = []
    deadline = time.time() + seconds
    serial = 0

    def count(kind):
        counts[kind] = counts.get(kind, 0) + 1

    def path(name):
        return os.path.join(folder, name)

    def put(name, data, kind):
        with open(path(name), 'wb') as f:
            f.write(data)
        mine[name] = data
        count(kind)

    while time.time() < deadline:
        op = rng.random()
        try:
            if op < 0.25 or not mine:
                serial += 1
                size = rng.choice([0, 100, 5000, 70_000, 200_000, 400_000])
                put('w%02d-%d.bin' % (index, serial), body(index * 1_000_003 + serial, size), 'create')
            elif op < 0.40:
                name = rng.choice(sorted(mine))
                put(name, body(rng.randrange(1 << 30), rng.choice([10, 66_000, 300_000])), 'rewrite')
            elif op < 0.50:
                name = rng.choice(sorted(mine))
                extra = body(rng.randrange(1 << 30), rng.choice([1, 4096, 70_000]))
                with open(path(name), 'ab') as f:
                    f.write(extra)
                mine[name] = mine[name] + extra
                count('append')
            elif op < 0.58:
                name = rng.choice(sorted(mine))
                serial += 1
                new = 'w%02d-%d.bin' % (index, serial)
                os.rename(path(name), path(new))
                mine[new] = mine.pop(name)
                count('rename')
            elif op < 0.64 and len(mine) > 2:
                name = rng.choice(sorted(mine))
                os.unlink(path(name))
                del mine[name]
                count('unlink')
            elif op < 0.85:
                name = rng.choice(sorted(mine))
                with open(path(name), 'rb') as f:
                    got = f.read()
                if got != mine[name]:
                    mismatches.append({'file': name, 'expected': len(mine[name]), 'got': len(got)})
                count('read_own')
            elif checks:
                rel, digest = rng.choice(checks)
                with open(rel, 'rb') as f:
                    got = hashlib.sha256(f.read()).hexdigest()
                if got != digest:
                    mismatches.append({'file': rel, 'expected': digest, 'got': got})
                count('read_stored')
        except OSError as e:
            errors.append('%s: %s' % (type(e).__name__, e))
    queue.put({'index': index, 'counts': counts, 'errors': errors, 'mismatches': mismatches,
               'files': {n: hashlib.sha256(d).hexdigest() for n, d in mine.items()}})


def daemon_pid(mount):
    mount = os.path.realpath(mount)
    for pid in os.listdir('/proc'):
        if not pid.isdigit():
            continue
        try:
            args = open('/proc/%s/cmdline' % pid, 'rb').read().split(b'\0')
        except OSError:
            continue
        if any(a.endswith(b'zodbfs') for a in args[:1]) and b'--foreground' in args and \
                any(os.path.realpath(a.decode(errors='replace')) == mount for a in args if a):
            return int(pid)
    return None


def rss_kib(pid):
    with open('/proc/%d/status' % pid) as f:
        for line in f:
            if line.startswith('VmRSS:'):
                return int(line.split()[1])
    return 0


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('mount')
    parser.add_argument('folder')
    parser.add_argument('--processes', type=int, default=16)
    parser.add_argument('--seconds', type=float, default=20)
    parser.add_argument('--check', action='append', default=[])
    args = parser.parse_args()
    folder = os.path.join(args.mount, args.folder)
    os.makedirs(folder, exist_ok=True)
    checks = [(os.path.join(args.mount, c.split('=')[0]), c.split('=')[1]) for c in args.check]
    pid = daemon_pid(args.mount)
    queue = multiprocessing.Queue()
    workers = [multiprocessing.Process(target=worker, args=(i, folder, args.seconds, checks, queue))
               for i in range(args.processes)]
    started = time.time()
    for w in workers:
        w.start()
    rss = []
    results = []
    while len(results) < len(workers):
        if pid:
            try:
                rss.append(rss_kib(pid))
            except OSError:
                pass
        try:
            results.append(queue.get(timeout=0.5))
        except Exception:
            if time.time() - started > args.seconds + 300:
                break
    for w in workers:
        w.join(10)
    hung = [w.pid for w in workers if w.is_alive()]
    for w in workers:
        if w.is_alive():
            w.kill()
    counts = {}
    for r in results:
        for k, v in r['counts'].items():
            counts[k] = counts.get(k, 0) + v
    summary = {
        'processes': args.processes, 'seconds': round(time.time() - started, 1),
        'ops': sum(counts.values()), 'counts': counts,
        'errors': [e for r in results for e in r['errors']],
        'mismatches': [m for r in results for m in r['mismatches']],
        'hung_workers': hung, 'finished_workers': len(results),
        'files': {n: d for r in results for n, d in r['files'].items()},
        'daemon_pid': pid, 'rss_kib': rss,
    }
    print(json.dumps(summary))
    return 1 if summary['errors'] or summary['mismatches'] or hung or len(results) < len(workers) else 0


if __name__ == '__main__':
    sys.exit(main())
