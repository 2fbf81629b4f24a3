"""A crash campaign against a writable zodbfs mount: a mixed workload, a
`kill -9` of the mount at a random moment, a remount, and a comparison of
what the store holds with a model of what every acknowledged operation left.

    crash_campaign.py --binary ZODBFS --store DATA_FS --scratch DIR
                      [--runs N] [--seed S] [--ops N] [--workers W] [--readers R]
                      [--max-delay SECONDS] [--aim SHARE]

DATA_FS is copied into DIR (with its index) and never touched. Each run
mounts the copy, starts W workers and kills the serving process with
SIGKILL after a random delay (or once every worker has done its N
operations); a share of the kills (--aim) then waits until Data.fs grows,
to land inside a commit. Every worker owns its names (`cc<worker>-…`) in a plain
Folder (`docs`) and in two BTreeFolder2s (`many`, `empty btree`), and
does one operation at a time: create, overwrite, append, truncate (by
path), rename (to a new name, over one of its files, across containers;
folders with their contents), unlink, mkdir and rmdir. An operation counts
as acknowledged once the call that commits it (close, truncate, rename,
unlink, mkdir, rmdir) returned; the model then takes its effect. R
readers list the folders and read files meanwhile.

After the kill the dead mount is detached (`umount -l`), the store is
mounted again — which cuts a torn tail as ZODB does — and checked:

- ZODB's `fstest` finds every transaction well formed;
- every name a worker owns is exactly as the model says (a file with its
  bytes, a folder, or absent), and no other name of the worker exists;
- the operation each worker had in flight at the kill left either all of
  its effect or none of it (old or new bytes, a rename done or not done,
  never a mixture or a partial body).

After the last run the store is unmounted and opened by the real ZODB and
Zope (`verify_store.py`: fstest, fsrefs, the index, the BTree checker,
every object): it must report no problem and hold the model's files with
their bytes.

Prints a JSON summary (runs, kills, operations, failures with details);
exits 1 when anything failed.
"""
import argparse
import errno
import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CONTAINERS = ['docs', 'many', 'empty btree']
DIR = 'dir'


def digest(data):
    return hashlib.sha256(data).hexdigest()


class Worker:
    """One client doing one operation at a time on names only it uses.

    ``state`` maps every path the worker owns to its content (bytes) or
    ``DIR``; ``inflight`` is, while an operation runs, the list of states
    its paths may be in after a crash (before, and each committed step).
    """

    def __init__(self, index, mount, seed, files_limit):
        self.index = index
        self.mount = mount
        self.rng = random.Random(seed)
        self.files_limit = files_limit
        self.state = {}
        self.counter = 0
        self.inflight = None
        self.reset(None, 0)

    def reset(self, killed, ops):
        self.killed = killed
        self.ops = ops
        self.done = 0
        self.acknowledged = 0
        self.acknowledged_kinds = {}
        self.unexpected = []

    def new_name(self, what):
        self.counter += 1
        return 'cc%d-%s%d%s' % (self.index, what, self.counter, '.bin' if what == 'f' else '')

    def files(self):
        return sorted(p for p, v in self.state.items() if v is not DIR)

    def dirs(self):
        return sorted(p for p, v in self.state.items() if v is DIR)

    def content(self):
        r = self.rng.random()
        if r < 0.15:
            size = self.rng.choice([0, 1, 65535, 65536, 65537])
        elif r < 0.7:
            size = self.rng.randrange(1, 8192)
        elif r < 0.9:
            size = self.rng.randrange(8192, 140000)
        elif r < 0.97:
            size = self.rng.randrange(140000, 420000)
        else:
            # Commits long enough for a kill to land in their writes.
            size = self.rng.randrange(1 << 20, 4 << 20)
        return self.rng.randbytes(size)

    def place(self):
        """A folder for a new file: a container or one of the worker's folders."""
        dirs = self.dirs()
        if dirs and self.rng.random() < 0.4:
            return self.rng.choice(dirs)
        return self.rng.choice(CONTAINERS)

    def path(self, relative):
        return os.path.join(self.mount, relative)

    def run(self):
        while self.done < self.ops and not self.killed.is_set():
            kind, alternatives, steps = self.plan()
            self.inflight = alternatives
            self.done += 1
            try:
                for step in steps:
                    step()
            except OSError as e:
                if not self.killed.is_set():
                    self.unexpected.append({'op': kind, 'paths': sorted(alternatives[0]),
                                            'error': errno.errorcode.get(e.errno, str(e.errno))})
                # The outcome is checked after the remount.
                return
            self.state.update(alternatives[-1])
            for p, v in alternatives[-1].items():
                if v is None:
                    del self.state[p]
            self.inflight = None
            self.acknowledged += 1
            self.acknowledged_kinds[kind] = self.acknowledged_kinds.get(kind, 0) + 1

    def plan(self):
        """An operation: its kind, the states its paths may end in, and its calls."""
        files, dirs = self.files(), self.dirs()
        r = self.rng.random()
        if not files or (r < 0.22 and len(files) < self.files_limit):
            return self.create()
        if r < 0.34:
            return self.overwrite(self.rng.choice(files))
        if r < 0.44:
            return self.append(self.rng.choice(files))
        if r < 0.52:
            return self.truncate(self.rng.choice(files))
        if r < 0.68:
            return self.rename_file(self.rng.choice(files))
        if r < 0.80 or len(files) >= self.files_limit:
            return self.unlink(self.rng.choice(files))
        if r < 0.88 or not dirs:
            if len(dirs) < 6:
                d = os.path.join(self.rng.choice(CONTAINERS), self.new_name('d'))
                return 'mkdir', [{d: None}, {d: DIR}], [lambda: os.mkdir(self.path(d))]
            return self.unlink(self.rng.choice(files))
        d = self.rng.choice(dirs)
        inside = [p for p in self.state if p.startswith(d + '/')]
        if not inside and self.rng.random() < 0.6:
            return 'rmdir', [{d: DIR}, {d: None}], [lambda: os.rmdir(self.path(d))]
        return self.rename_dir(d, inside)

    def create(self):
        p = os.path.join(self.place(), self.new_name('f'))
        data = self.content()
        return 'create', [{p: None}, {p: data}], [self.writer(p, os.O_CREAT | os.O_EXCL, data)]

    def overwrite(self, p):
        data = self.content()
        return 'overwrite', [{p: self.state[p]}, {p: data}], [self.writer(p, os.O_TRUNC, data)]

    def append(self, p):
        extra = self.content()[:self.rng.choice([1, 100, 70000, 200000])]
        return 'append', [{p: self.state[p]}, {p: self.state[p] + extra}], [self.writer(p, os.O_APPEND, extra)]

    def writer(self, p, flags, data):
        """A step that opens p write-only with flags, writes data and closes it."""
        def write():
            fd = os.open(self.path(p), os.O_WRONLY | flags, 0o644)
            try:
                write_all(fd, data)
            finally:
                os.close(fd)
        return write

    def truncate(self, p):
        old = self.state[p]
        size = self.rng.choice([0, len(old) // 2, max(0, len(old) - 1), len(old) + 1000, 65536])
        new = old[:size] + b'\0' * max(0, size - len(old))
        return 'truncate', [{p: old}, {p: new}], [lambda: os.truncate(self.path(p), size)]

    def rename_file(self, p):
        others = [f for f in self.files() if f != p]
        if others and self.rng.random() < 0.3:
            q = self.rng.choice(others)
        else:
            q = os.path.join(self.place(), self.new_name('f'))
        before = {p: self.state[p], q: self.state.get(q)}
        return 'rename', [before, {p: None, q: self.state[p]}], [lambda: os.rename(self.path(p), self.path(q))]

    def rename_dir(self, d, inside):
        target = os.path.join(self.rng.choice(CONTAINERS), self.new_name('d'))
        before = {d: DIR, target: None}
        after = {d: None, target: DIR}
        for p in inside:
            before[p] = self.state[p]
            before[target + p[len(d):]] = None
            after[p] = None
            after[target + p[len(d):]] = self.state[p]
        return 'rename-folder', [before, after], [lambda: os.rename(self.path(d), self.path(target))]

    def unlink(self, p):
        return 'unlink', [{p: self.state[p]}, {p: None}], [lambda: os.unlink(self.path(p))]


def read_around(mount, seed, killed, stats):
    """Lists the containers and folders and reads files while the workers
    change them, so that loads of listings and bodies overlap their commits.
    Names vanish under it (ENOENT, ENOTDIR are expected); any other error
    before the kill is one."""
    rng = random.Random(seed)
    folders = list(CONTAINERS)
    while not killed.is_set():
        folder = rng.choice(folders)
        try:
            names = os.listdir(os.path.join(mount, folder))
            stats['listings'] += 1
            for name in rng.sample(names, min(4, len(names))):
                path = os.path.join(mount, folder, name)
                if os.path.isdir(path):
                    if name.startswith('cc') and len(folders) < 50:
                        folders.append(os.path.join(folder, name))
                    continue
                with open(path, 'rb') as f:
                    f.read(1 << 18)
                stats['reads'] += 1
        except OSError as e:
            if e.errno in (errno.ENOENT, errno.ENOTDIR):
                if folder not in CONTAINERS and folder in folders:
                    folders.remove(folder)
                continue
            if not killed.is_set():
                stats['errors'].append('%s: %s' % (folder, errno.errorcode.get(e.errno, str(e.errno))))
            return


def write_all(fd, data):
    view = memoryview(data)
    while view:
        n = os.write(fd, view[:1 << 20])
        view = view[n:]


def observe(mount, relative):
    """What the mount shows at a path: None, DIR, or the file's bytes."""
    path = os.path.join(mount, relative)
    try:
        if os.path.isdir(path):
            return DIR
        with open(path, 'rb') as f:
            return f.read()
    except FileNotFoundError:
        return None


def describe(value):
    if value is None:
        return 'absent'
    if value is DIR:
        return 'folder'
    return 'file of %d bytes, sha256 %s' % (len(value), digest(value)[:16])


def check_worker(worker, mount, failures, run):
    """Compares the mount with the worker's model; resolves its in-flight operation."""
    checked = 0
    inflight = worker.inflight or []
    uncertain = set().union(*inflight) if inflight else set()
    for p, expected in sorted(worker.state.items()):
        if p in uncertain:
            continue
        got = observe(mount, p)
        checked += 1
        if got != expected:
            failures.append({'run': run, 'worker': worker.index, 'kind': 'acknowledged state lost',
                             'path': p, 'expected': describe(expected), 'found': describe(got)})
    resolution = None
    if inflight:
        found = {p: observe(mount, p) for p in uncertain}
        checked += len(found)
        for i, alternative in enumerate(inflight):
            if all(found[p] == v for p, v in alternative.items()):
                resolution = i
                break
        if resolution is None:
            failures.append({'run': run, 'worker': worker.index, 'kind': 'in-flight operation partial',
                             'found': {p: describe(v) for p, v in found.items()},
                             'allowed': [{p: describe(v) for p, v in a.items()} for a in inflight]})
            worker.state.update({p: v for p, v in found.items()})
        else:
            worker.state.update(inflight[resolution])
        for p in [p for p, v in worker.state.items() if v is None]:
            del worker.state[p]
        worker.inflight = None
    # No name of the worker that the model does not know.
    prefix = 'cc%d-' % worker.index
    folders = CONTAINERS + worker.dirs()
    for folder in folders:
        try:
            names = os.listdir(os.path.join(mount, folder))
        except FileNotFoundError:
            continue
        for name in names:
            p = os.path.join(folder, name)
            if (folder in CONTAINERS and not name.startswith(prefix)) or p in worker.state:
                continue
            failures.append({'run': run, 'worker': worker.index, 'kind': 'stray name', 'path': p,
                             'found': describe(observe(mount, p))})
    return checked, resolution


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--binary', required=True)
    parser.add_argument('--store', required=True)
    parser.add_argument('--scratch', required=True)
    parser.add_argument('--runs', type=int, default=10)
    parser.add_argument('--seed', type=int, default=1)
    parser.add_argument('--ops', type=int, default=200, help='operations per worker and run, at most')
    parser.add_argument('--workers', type=int, default=3)
    parser.add_argument('--readers', type=int, default=1, help='threads listing and reading meanwhile')
    parser.add_argument('--max-delay', type=float, default=1.5, help='longest time before the kill, in seconds')
    parser.add_argument('--aim', type=float, default=0.5,
                        help='share of kills sent as soon as Data.fs grows, to land inside a commit')
    parser.add_argument('--files', type=int, default=40, help='files a worker keeps at most')
    parser.add_argument('--python', default=sys.executable)
    parser.add_argument('--no-zope', action='store_true', help='skip the final check by ZODB and Zope')
    args = parser.parse_args()

    rng = random.Random(args.seed)
    os.makedirs(args.scratch, exist_ok=True)
    store = os.path.join(args.scratch, 'Data.fs')
    mount = os.path.join(args.scratch, 'mnt')
    os.makedirs(mount, exist_ok=True)
    shutil.copyfile(args.store, store)
    if os.path.exists(args.store + '.index'):
        shutil.copyfile(args.store + '.index', store + '.index')

    workers = [Worker(i, mount, rng.randrange(1 << 30), args.files) for i in range(args.workers)]
    summary = {'seed': args.seed, 'runs': 0, 'kills': 0, 'aimed_kills': 0, 'workers': args.workers, 'ops_started': 0,
               'ops_acknowledged': 0, 'acknowledged_by_kind': {}, 'in_flight_at_kill': 0,
               'in_flight_kept': 0, 'in_flight_dropped': 0,
               'readers': args.readers, 'reader_listings': 0, 'reader_reads': 0, 'paths_checked': 0, 'torn_tails_cut': 0,
               'remount_seconds_max': 0.0, 'fstest_runs': 0, 'zope_checked_files': 0, 'failures': []}
    failures = summary['failures']

    def zodbfs(*arguments, timeout=120):
        return subprocess.run([args.binary, *arguments], capture_output=True, text=True, timeout=timeout)

    def serving_pid():
        with open(os.path.join(mount, '.zodbfs/info')) as f:
            for line in f:
                if line.startswith('pid: '):
                    return int(line[5:])
        raise RuntimeError('no pid in .zodbfs/info')

    def mount_store(run):
        started = time.monotonic()
        result = zodbfs('mount', store, mount)
        if result.returncode != 0:
            failures.append({'run': run, 'kind': 'remount failed', 'detail': result.stderr.strip()[-2000:]})
            return False
        summary['remount_seconds_max'] = max(summary['remount_seconds_max'], round(time.monotonic() - started, 3))
        return True

    def torn_tails():
        return len([n for n in os.listdir(args.scratch) if n.startswith('Data.fs.tr')])

    def fstest(run):
        summary['fstest_runs'] += 1
        result = subprocess.run([args.python, '-m', 'ZODB.scripts.fstest', store], capture_output=True, text=True)
        if result.returncode != 0:
            failures.append({'run': run, 'kind': 'fstest', 'detail': (result.stdout + result.stderr).strip()[-2000:]})

    if not mount_store(-1):
        print(json.dumps(summary, indent=1))
        return 1
    reported = 0
    for run in range(args.runs):
        summary['runs'] += 1
        killed = threading.Event()
        pid = serving_pid()
        threads = []
        for w in workers:
            w.reset(killed, args.ops)
            t = threading.Thread(target=w.run, daemon=True)
            threads.append(t)
        reader_stats = {'listings': 0, 'reads': 0, 'errors': []}
        readers = [threading.Thread(target=read_around, args=(mount, rng.randrange(1 << 30), killed, reader_stats),
                                    daemon=True) for _ in range(args.readers)]
        for t in threads + readers:
            t.start()
        deadline = time.monotonic() + rng.uniform(0.02, args.max_delay)
        while time.monotonic() < deadline and any(t.is_alive() for t in threads):
            time.sleep(0.002)
        if rng.random() < args.aim:
            # Aim at a commit: kill as soon as Data.fs is seen growing.
            summary['aimed_kills'] += 1
            size = os.path.getsize(store)
            until = time.monotonic() + 1.0
            while os.path.getsize(store) == size and time.monotonic() < until \
                    and any(t.is_alive() for t in threads):
                pass
        killed.set()
        os.kill(pid, signal.SIGKILL)
        summary['kills'] += 1
        for t in threads + readers:
            t.join(60)
            if t.is_alive():
                failures.append({'run': run, 'kind': 'a call hung after the kill'})
        summary['reader_listings'] += reader_stats['listings']
        summary['reader_reads'] += reader_stats['reads']
        for error in reader_stats['errors']:
            failures.append({'run': run, 'kind': 'unexpected error of a reader before the kill', 'detail': error})
        subprocess.run(['umount', '-l', mount], capture_output=True)
        for _ in range(500):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.01)
        for w in workers:
            summary['ops_started'] += w.done
            summary['ops_acknowledged'] += w.acknowledged
            for kind, n in w.acknowledged_kinds.items():
                summary['acknowledged_by_kind'][kind] = summary['acknowledged_by_kind'].get(kind, 0) + n
            for u in w.unexpected:
                failures.append({'run': run, 'worker': w.index, 'kind': 'unexpected error before the kill', **u})
            if w.inflight:
                summary['in_flight_at_kill'] += 1
        tails = torn_tails()
        if not mount_store(run):
            break
        summary['torn_tails_cut'] += torn_tails() - tails
        fstest(run)
        for w in workers:
            checked, resolution = check_worker(w, mount, failures, run)
            summary['paths_checked'] += checked
            if resolution == 0:
                summary['in_flight_dropped'] += 1
            elif resolution is not None:
                summary['in_flight_kept'] += 1
        print('run %d: %d operations acknowledged, %d failures so far'
              % (run + 1, summary['ops_acknowledged'], len(failures)), file=sys.stderr, flush=True)
        for failure in failures[reported:]:
            print('  failure: %s' % json.dumps(failure), file=sys.stderr, flush=True)
        reported = len(failures)
        if len(failures) > 50:
            break

    if os.path.ismount(mount):
        result = zodbfs('unmount', mount)
        if result.returncode != 0:
            failures.append({'kind': 'unmount failed', 'detail': result.stderr.strip()})
    if not args.no_zope and os.path.exists(store + '.index'):
        result = subprocess.run([args.python, os.path.join(HERE, 'verify_store.py'), store],
                                capture_output=True, text=True, timeout=1800)
        try:
            report = json.loads(result.stdout)
        except ValueError:
            failures.append({'kind': 'verify_store.py failed', 'detail': result.stderr.strip()[-2000:]})
        else:
            for problem in report['problems']:
                failures.append({'kind': 'ZODB/Zope check', 'detail': problem})
            entries = {e['path']: e for e in report['entries']}
            for w in workers:
                for p, v in sorted(w.state.items()):
                    e = entries.get(p)
                    if v is DIR:
                        ok = e is not None and e['kind'] == 'folder'
                    else:
                        ok = e is not None and e['kind'] in ('file', 'image') and e['sha256'] == digest(v)
                        summary['zope_checked_files'] += 1
                    if not ok:
                        failures.append({'kind': 'Zope reads something else', 'path': p,
                                         'expected': describe(v), 'found': str(e)[:300]})
                prefix = 'cc%d-' % w.index
                for p in entries:
                    if any(c.startswith(prefix) for c in p.split('/')) and p not in w.state:
                        failures.append({'kind': 'Zope finds a stray object', 'path': p})
    summary['ok'] = not failures
    print(json.dumps(summary, indent=1))
    return 0 if not failures else 1


if __name__ == '__main__':
    sys.exit(main())
