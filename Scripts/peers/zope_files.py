"""Makes Files and Images through Zope's own API in a fresh FileStorage and
prints, as JSON, every record it wrote for them, so the tests can compare
the records zodbfs builds with Zope's.

usage: zope_files.py DIR

Creates DIR/Data.fs with root['f'] = OFS.Folder.Folder('f') and commits one
transaction per step:
  - manage_addFile(folder, 'file<size>.bin', file=body(size)) for each size
    in SIZES (body(size)[i] = (7 * i + size) % 251);
  - manage_upload of body(200000) into file100.bin (a body replaced);
  - manage_addImage of a 1x1 PNG ('pixel.png') and of text ('notes.png');
  - manage_addFile of ('empty', b'') and ('page.html', b'<p>x</p>').
Prints {"files": [{"id", "oid", "size", "content_type", "etag", "record",
"links": [{"oid", "record"}] (first link first)}], "replaced": {...same for
file100.bin after the upload, plus "previous": the record before}, "etags":
[[time, etag], ...]} with records and oids in hex.
"""
import json
import os
import struct
import sys
import zlib

import transaction
from OFS.Folder import Folder
from OFS.Image import manage_addFile, manage_addImage
from ZODB import DB
from ZODB.FileStorage import FileStorage
from ZODB.utils import load_current

SIZES = [0, 100, 65535, 65536, 65537, 131072, 131073, 200000, 300001]


def body(size):
    return bytes((7 * i + size) % 251 for i in range(size))


def png_1x1():
    def chunk(kind, data):
        return (struct.pack('>I', len(data)) + kind + data
                + struct.pack('>I', zlib.crc32(kind + data) & 0xffffffff))
    return (b'\x89PNG\r\n\x1a\n'
            + chunk(b'IHDR', struct.pack('>IIBBBBB', 1, 1, 8, 6, 0, 0, 0))
            + chunk(b'IDAT', zlib.compress(b'\x00\x00\x00\x00\x00'))
            + chunk(b'IEND', b''))


def describe(storage, ob):
    record, _ = load_current(storage, ob._p_oid)
    links = []
    link = ob.data
    while link is not None and not isinstance(link, bytes):
        links.append({'oid': link._p_oid.hex(),
                      'record': load_current(storage, link._p_oid)[0].hex()})
        link = link.next
    return {'id': ob.getId(), 'oid': ob._p_oid.hex(), 'size': ob.size,
            'content_type': ob.content_type,
            'etag': ob.__dict__['_EtagSupport__etag'],
            'record': record.hex(), 'links': links}


def main(directory):
    db = DB(FileStorage(os.path.join(directory, 'Data.fs')))
    storage = db.storage
    conn = db.open()
    root = conn.root()
    root['f'] = Folder('f')
    transaction.commit()
    folder = root['f']
    out = {'files': [], 'etags': []}

    def add(adder, name, data):
        adder(folder, name, file=data)
        transaction.commit()
        out['files'].append(describe(storage, folder._getOb(name)))

    for size in SIZES:
        add(manage_addFile, 'file%d.bin' % size, body(size))
    add(manage_addImage, 'pixel.png', png_1x1())
    add(manage_addImage, 'notes.png', b'not an image\n')
    add(manage_addFile, 'empty', b'')
    add(manage_addFile, 'page.html', b'<p>x</p>')

    target = folder._getOb('file100.bin')
    previous = load_current(storage, target._p_oid)[0].hex()
    target.manage_upload(body(200000))
    transaction.commit()
    out['replaced'] = describe(storage, target)
    out['replaced']['previous'] = previous

    for t in [1763812345.6789012, 1700000000.0, 1763800000.5, 1234567890.1234567]:
        out['etags'].append([t, 'ts%s' % str(t)[2:]])
    conn.close()
    db.close()
    json.dump(out, sys.stdout)


if __name__ == '__main__':
    main(sys.argv[1])
