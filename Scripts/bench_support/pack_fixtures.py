#!/usr/bin/env python3
"""The two databases of the pack benchmark, built with the real Python
packages, each with a pack time in it.

    pack_fixtures.py files DIR [--small]
    pack_fixtures.py objects DIR [--small]

``files`` — file-heavy: a Zope database (the project's small Zope fixture,
``build_zope_fixture.py --scale small``, as its start) to which large
``OFS.Image.File`` objects are added through Zope's OFS API
(``manage_addFile``/``manage_upload`` with a file object, so Zope's
``_read_data`` cuts them into 64 KiB ``Pdata`` chains, laid out back to
front), one upload a transaction.  Then most of the bytes become garbage
before the pack time: files replaced by new versions (some twice), files
deleted from a Folder and from a BTreeFolder2; a few more files are added.
After the pack time: one replacement and one new file.

``objects`` — object-heavy, the shape of a Plone catalog, built with the
raw ZODB API in big transactions: ``root['content']`` an OOBTree of
PersistentMappings (path → document), ``root['catalog']`` a
PersistentMapping holding an OOBTree path → rid, an IOBTree rid → path, an
IOBTree rid → PersistentList of metadata, and a ``BTrees.Length``.  Then
history before the pack time: several rounds in which a random part of the
documents is modified (document and metadata rewritten), and a part of the
documents removed from every tree (their buckets rewritten).  After the
pack time: a few modifications, additions and removals.

DIR receives Data.fs, Data.fs.index (the storage is closed cleanly) and
fixture.json: {"kind", "small", "params", "pack_time" (seconds since the
epoch, a float, between the last transaction before it and the first one
after it), "build_seconds", "size", "transactions", "objects" (oids in the
storage), "records", "live_files" (files kind: every File reachable at the
pack time and after, with path, size and sha256, largest first)}.
Existing files in DIR are replaced.  Contents are deterministic (seeded);
tids and times differ from run to run.
"""

import argparse
import hashlib
import json
import os
import random
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
FIXTURES = os.path.join(ROOT, 'Scripts', 'fixtures')

KiB = 1 << 10
MiB = 1 << 20

# Bump when a builder changes what it writes: cached fixtures are keyed by
# this and the parameters below.
FORMAT = 1

PARAMS = {
    # sizes in bytes, uniform in [min, max]
    ('files', False): {
        'seed': 'pack-files', 'min_size': 24 * MiB, 'max_size': 56 * MiB,
        'media': 20, 'archive': 12, 'replace': 14, 'replace_again': 6,
        'delete_media': 4, 'delete_archive': 8, 'add_later': 4,
    },
    ('files', True): {
        'seed': 'pack-files', 'min_size': 200 * KiB, 'max_size': 900 * KiB,
        'media': 6, 'archive': 4, 'replace': 4, 'replace_again': 2,
        'delete_media': 1, 'delete_archive': 2, 'add_later': 2,
    },
    ('objects', False): {
        'seed': 'pack-objects', 'documents': 1_000_000, 'batch': 50_000,
        'rounds': 3, 'modify_fraction': 0.4, 'remove_fraction': 0.35,
        'tail': 10_000,
    },
    ('objects', True): {
        'seed': 'pack-objects', 'documents': 10_000, 'batch': 2_500,
        'rounds': 3, 'modify_fraction': 0.4, 'remove_fraction': 0.35,
        'tail': 200,
    },
}


def params(kind, small):
    return dict(PARAMS[(kind, small)])


def key(kind, small):
    """A short name for a fixture and its parameters (the cache key)."""
    text = json.dumps({'format': FORMAT, 'kind': kind, 'params': params(kind, small)},
                      sort_keys=True)
    return '%s%s-%s' % (kind, '-small' if small else '',
                        hashlib.sha256(text.encode()).hexdigest()[:10])


def log(msg):
    print('  · ' + msg, file=sys.stderr, flush=True)


def wait_past_clock(seconds=0.05):
    """Sleep so that the next commit's tid is clearly later than now."""
    time.sleep(seconds)


# --------------------------------------------------------------------------
# file-heavy


class SyntheticFile:
    """A read-only, seekable file of ``size`` bytes made on the fly: a
    seeded random 1 MiB pattern starting at a seeded offset, with every
    MiB stamped with the file's seed and its index, so that no two
    MiBs of the database are equal.  Zope's ``_read_data`` seeks and reads
    it back to front like a real upload; nothing touches the disk."""

    PATTERN = 1 * MiB

    def __init__(self, seed, size):
        r = random.Random(seed)
        self.size = size
        self.stamp = hashlib.sha256(seed.encode()).digest()[:8]
        self.shift = r.randrange(self.PATTERN)
        base = r.randbytes(self.PATTERN)
        self.pattern = base + base
        self.pos = 0

    def __bool__(self):
        return self.size > 0

    def seek(self, offset, whence=0):
        if whence == 0:
            self.pos = offset
        elif whence == 1:
            self.pos += offset
        else:
            self.pos = self.size + offset
        return self.pos

    def tell(self):
        return self.pos

    def _piece(self, start, n):
        """Bytes [start, start + n) within one MiB of the file."""
        mib = start // self.PATTERN
        at = (start + self.shift) % self.PATTERN
        piece = bytearray(self.pattern[at:at + n])
        stamp = self.stamp + mib.to_bytes(8, 'little')
        # the stamp sits at the start of every MiB of the file
        lo = start - mib * self.PATTERN
        if lo < len(stamp):
            k = min(len(stamp) - lo, n)
            piece[0:k] = stamp[lo:lo + k]
        return bytes(piece)

    def read(self, n=-1):
        end = self.size if n is None or n < 0 else min(self.size, self.pos + n)
        out = []
        while self.pos < end:
            room = self.PATTERN - self.pos % self.PATTERN
            k = min(room, end - self.pos)
            out.append(self._piece(self.pos, k))
            self.pos += k
        return b''.join(out)

    def sha256(self):
        h = hashlib.sha256()
        self.seek(0)
        while True:
            block = self.read(4 * MiB)
            if not block:
                break
            h.update(block)
        self.seek(0)
        return h.hexdigest()


def build_files(directory, small):
    p = params('files', small)
    datafs = os.path.join(directory, 'Data.fs')
    log('the Zope start: build_zope_fixture.py --scale small')
    subprocess.run([sys.executable, os.path.join(FIXTURES, 'build_zope_fixture.py'),
                    '--output', directory, '--scale', 'small'],
                   check=True, stdout=subprocess.DEVNULL)
    os.unlink(os.path.join(directory, 'manifest.json'))

    sys.path.insert(0, FIXTURES)
    import fixture_common  # noqa: F401  (the fixture's own classes importable)
    import transaction
    from OFS.Folder import manage_addFolder
    from OFS.Image import manage_addFile
    from Products.BTreeFolder2.BTreeFolder2 import manage_addBTreeFolder
    from ZODB import DB
    from ZODB.FileStorage import FileStorage

    rng = random.Random(p['seed'])
    versions = {}   # path -> number of the current version
    live = {}       # path -> (seed, size) of the current body
    uploaded = [0]

    def body(path):
        versions[path] = versions.get(path, 0) + 1
        seed = '%s:%s:v%d' % (p['seed'], path, versions[path])
        size = rng.randint(p['min_size'], p['max_size'])
        live[path] = (seed, size)
        uploaded[0] += size
        return SyntheticFile(seed, size)

    def commit(note):
        t = transaction.get()
        t.setUser('admin')
        t.note(note)
        t.commit()

    db = DB(FileStorage(datafs))
    try:
        conn = db.open()
        app = conn.root()['Application']
        manage_addFolder(app, 'media', title='Large files')
        manage_addBTreeFolder(app, 'archive', title='Archived large files')
        commit('pack benchmark: add media/ and archive/')
        media, archive = app._getOb('media'), app._getOb('archive')

        def add(folder, name):
            path = '%s/%s' % (folder.getId(), name)
            manage_addFile(folder, name, file=body(path), title=name,
                           content_type='application/octet-stream')
            commit('upload %s' % path)
            conn.cacheMinimize()

        def replace(folder, name):
            path = '%s/%s' % (folder.getId(), name)
            folder._getOb(name).manage_upload(body(path))
            commit('replace %s' % path)
            conn.cacheMinimize()

        media_names = ['clip-%03d.bin' % i for i in range(p['media'])]
        archive_names = ['old-%03d.bin' % i for i in range(p['archive'])]
        log('uploading %d + %d files' % (len(media_names), len(archive_names)))
        for name in media_names:
            add(media, name)
        for name in archive_names:
            add(archive, name)
        replaced = rng.sample(media_names, p['replace'])
        log('replacing %d files, %d of them twice' % (len(replaced), p['replace_again']))
        for name in replaced:
            replace(media, name)
        for name in replaced[:p['replace_again']]:
            replace(media, name)
        # deleted: some replaced ones (their history goes too), some not
        gone_media = replaced[:p['delete_media'] // 2] + \
            [n for n in media_names if n not in replaced][:p['delete_media'] - p['delete_media'] // 2]
        gone_archive = rng.sample(archive_names, p['delete_archive'])
        log('deleting %d + %d files' % (len(gone_media), len(gone_archive)))
        media.manage_delObjects(list(gone_media))  # it empties the list
        commit('delete %d files from media/' % len(gone_media))
        archive.manage_delObjects(list(gone_archive))
        commit('delete %d files from archive/' % len(gone_archive))
        for name in gone_media:
            del live['media/' + name]
        for name in gone_archive:
            del live['archive/' + name]
        for i in range(p['add_later']):
            add(media, 'new-%03d.bin' % i)

        wait_past_clock()
        pack_time = time.time()
        wait_past_clock()
        log('after the pack time: one replacement, one new file')
        kept = sorted(n for n in media_names if n not in gone_media)
        # the revision current at the pack time stays (it was current then)
        at_pack = dict(live)
        replace(media, kept[0])
        add(media, 'after-pack.bin')
        conn.close()
    finally:
        db.close()

    files = []
    for path, (seed, size) in sorted(live.items()):
        files.append({'path': path, 'size': size, 'sha256': SyntheticFile(seed, size).sha256()})
    files.sort(key=lambda f: (-f['size'], f['path']))
    return {'pack_time': pack_time, 'live_files': files,
            'live_bytes_at_pack': sum(s for _, s in at_pack.values()),
            'uploaded_bytes': uploaded[0]}


# --------------------------------------------------------------------------
# object-heavy


def build_objects(directory, small):
    p = params('objects', small)
    datafs = os.path.join(directory, 'Data.fs')
    import transaction
    from BTrees.IOBTree import IOBTree
    from BTrees.Length import Length
    from BTrees.OOBTree import OOBTree
    from persistent.list import PersistentList
    from persistent.mapping import PersistentMapping
    from ZODB import DB
    from ZODB.FileStorage import FileStorage

    rng = random.Random(p['seed'])
    n = p['documents']
    batch = p['batch']
    words = ['plone', 'zope', 'catalog', 'index', 'brain', 'folder', 'news',
             'event', 'page', 'image', 'file', 'link', 'review', 'draft',
             'published', 'private', 'member', 'group', 'portal', 'site']
    states = ['private', 'pending', 'published', 'visible']

    def path_of(i):
        return '/site/folder-%03d/doc-%07d' % (i % 997, i)

    def document(i, revision):
        r = random.Random(i * 31 + revision)
        return PersistentMapping({
            'id': 'doc-%07d' % i,
            'title': ' '.join(r.choice(words) for _ in range(4)).title(),
            'description': ' '.join(r.choice(words) for _ in range(r.randint(3, 10))),
            'review_state': r.choice(states),
            'modified': 1.7e9 + i + revision * 1e6,
            'subject': [r.choice(words) for _ in range(r.randint(0, 3))],
            'revision': revision,
        })

    def metadata(i, doc):
        return PersistentList([doc['title'], doc['review_state'], doc['modified'],
                               len(doc['description']), doc['revision']])

    def commit(note):
        t = transaction.get()
        t.note(note)
        t.commit()

    db = DB(FileStorage(datafs), cache_size=20_000)
    try:
        conn = db.open()
        root = conn.root()
        content = root['content'] = OOBTree()
        catalog = root['catalog'] = PersistentMapping({
            'uids': OOBTree(), 'paths': IOBTree(), 'metadata': IOBTree(), 'length': Length(),
        })
        commit('create the site and its catalog')
        cat = catalog
        alive = bytearray(n)

        def index(i, doc):
            path = path_of(i)
            cat['uids'][path] = i
            cat['paths'][i] = path
            cat['metadata'][i] = metadata(i, doc)

        log('adding %d documents and their catalog entries' % n)
        for start in range(0, n, batch):
            for i in range(start, min(n, start + batch)):
                doc = document(i, 0)
                content[path_of(i)] = doc
                index(i, doc)
                alive[i] = 1
            cat['length'].change(min(n, start + batch) - start)
            commit('add documents %d..%d' % (start, min(n, start + batch) - 1))
            conn.cacheMinimize()

        for rnd in range(1, p['rounds'] + 1):
            chosen = sorted(rng.sample(range(n), int(n * p['modify_fraction'])))
            log('history round %d: modifying %d documents' % (rnd, len(chosen)))
            for start in range(0, len(chosen), batch):
                for i in chosen[start:start + batch]:
                    doc = content[path_of(i)]
                    fresh = document(i, rnd)
                    doc.update(fresh.data)
                    meta = cat['metadata'][i]
                    meta[:] = metadata(i, doc)
                commit('round %d: modify %d documents' % (rnd, len(chosen[start:start + batch])))
                conn.cacheMinimize()

        doomed = sorted(rng.sample(range(n), int(n * p['remove_fraction'])))
        log('removing %d documents' % len(doomed))
        for start in range(0, len(doomed), batch):
            part = doomed[start:start + batch]
            for i in part:
                path = path_of(i)
                del content[path]
                del cat['uids'][path]
                del cat['paths'][i]
                del cat['metadata'][i]
                alive[i] = 0
            cat['length'].change(-len(part))
            commit('remove %d documents' % len(part))
            conn.cacheMinimize()

        wait_past_clock()
        pack_time = time.time()
        wait_past_clock()
        tail = p['tail']
        log('after the pack time: %d modified, %d added, %d removed' % (tail, tail, tail // 2))
        living = [i for i in range(n) if alive[i]]
        for i in rng.sample(living, tail):
            doc = content[path_of(i)]
            doc['revision'] = p['rounds'] + 1
            doc['title'] = doc['title'] + ' (after)'
            cat['metadata'][i][4] = p['rounds'] + 1
        commit('after the pack time: modify %d documents' % tail)
        for i in range(n, n + tail):
            doc = document(i, 0)
            content[path_of(i)] = doc
            index(i, doc)
        cat['length'].change(tail)
        commit('after the pack time: add %d documents' % tail)
        for i in rng.sample(living, tail // 2):
            path = path_of(i)
            if path in content:
                del content[path]
                del cat['uids'][path]
                del cat['paths'][i]
                del cat['metadata'][i]
        commit('after the pack time: remove documents')
        conn.close()
    finally:
        db.close()
    return {'pack_time': pack_time, 'documents_alive_at_pack': sum(alive)}


# --------------------------------------------------------------------------


def summarize(datafs):
    """Transactions, records and oids in a Data.fs (one scan)."""
    from ZODB.FileStorage import FileStorage
    fs = FileStorage(datafs, read_only=True)
    try:
        txns = records = 0
        for txn in fs.iterator():
            txns += 1
            for _ in txn:
                records += 1
        return {'size': fs.getSize(), 'transactions': txns, 'records': records,
                'objects': len(fs)}
    finally:
        fs.close()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('kind', choices=('files', 'objects'))
    ap.add_argument('directory')
    ap.add_argument('--small', action='store_true', help='a tiny version, for a smoke run')
    args = ap.parse_args(argv)
    os.makedirs(args.directory, exist_ok=True)
    for name in ('Data.fs', 'Data.fs.index', 'Data.fs.lock', 'Data.fs.tmp', 'fixture.json'):
        path = os.path.join(args.directory, name)
        if os.path.exists(path):
            os.unlink(path)
    start = time.perf_counter()
    build = build_files if args.kind == 'files' else build_objects
    out = {'kind': args.kind, 'small': args.small, 'params': params(args.kind, args.small)}
    out.update(build(args.directory, args.small))
    out['build_seconds'] = time.perf_counter() - start
    out.update(summarize(os.path.join(args.directory, 'Data.fs')))
    for name in ('Data.fs.lock', 'Data.fs.tmp'):
        path = os.path.join(args.directory, name)
        if os.path.exists(path):
            os.unlink(path)
    with open(os.path.join(args.directory, 'fixture.json'), 'w') as f:
        json.dump(out, f, indent=1)
    log('built %s in %.1f s: %.1f MiB, %d transactions, %d records, %d objects'
        % (args.kind, out['build_seconds'], out['size'] / MiB, out['transactions'],
           out['records'], out['objects']))


if __name__ == '__main__':
    main()
