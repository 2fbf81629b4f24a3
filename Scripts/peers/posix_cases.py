#!/usr/bin/env python3
"""Run each case of zodbfs's POSIX behaviour table on a mounted folder and
print, per case, ``name<TAB>result`` where result is ``ok`` or the errno
name the call failed with.

    posix_cases.py MOUNTPOINT

The mount must be writable and hold the test fixture (``docs/`` with
``readme.txt``, ``files/``). The table in README.md lists the same cases.
"""
import ctypes
import errno
import os
import stat
import sys

libc = ctypes.CDLL(None, use_errno=True)
RENAME_NOREPLACE, RENAME_EXCHANGE = 1, 2


def renameat2(old, new, flags):
    if libc.renameat2(-100, old.encode(), -100, new.encode(), flags) != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))


def main(root):
    d = os.path.join(root, 'posix')
    os.mkdir(d)
    f = os.path.join(d, 'file.txt')
    with open(f, 'w') as out:
        out.write('hello\n')
    os.mkdir(os.path.join(d, 'dir'))
    with open(os.path.join(d, 'dir', 'inside.txt'), 'w') as out:
        out.write('x')
    os.mkdir(os.path.join(d, 'empty'))

    def append():
        with open(f, 'a') as out:
            out.write('more\n')
        assert open(f).read() == 'hello\nmore\n'

    def overwrite_middle():
        with open(f, 'r+b') as out:
            out.seek(1)
            out.write(b'E')
        assert open(f, 'rb').read().startswith(b'hEllo')

    def truncate():
        os.truncate(f, 3)
        assert os.path.getsize(f) == 3

    def chmod():
        os.chmod(f, 0o600)
        assert stat.S_IMODE(os.stat(f).st_mode) == 0o600

    def utime():
        os.utime(f, (1_500_000_000, 1_500_000_000))
        assert os.stat(f).st_mtime == 1_500_000_000

    def rename_over_file():
        other = os.path.join(d, 'other.txt')
        with open(other, 'w') as out:
            out.write('other')
        os.rename(other, f)
        assert open(f).read() == 'other'

    def write_seen_by_earlier_reader():
        # A reader open before a write-only writer sees its bytes, before
        # and after the writer's close.
        g = os.path.join(d, 'shared-before.bin')
        with open(g, 'wb') as out:
            out.write(b'a' * 300000)
        r = os.open(g, os.O_RDONLY)
        try:
            assert os.pread(r, 10, 150000) == b'a' * 10
            w = os.open(g, os.O_WRONLY)
            os.pwrite(w, b'b' * 10, 150000)
            assert os.pread(r, 10, 150000) == b'b' * 10
            os.close(w)
            assert os.pread(r, 10, 150000) == b'b' * 10
        finally:
            os.close(r)

    def write_seen_by_later_reader():
        # A reader that opens while a write-only writer is at work (cp,
        # tar x) sees what it wrote so far and what it writes next.
        g = os.path.join(d, 'shared-after.bin')
        w = os.open(g, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        try:
            os.write(w, b'a' * 200000)
            r = os.open(g, os.O_RDONLY)
            try:
                assert os.pread(r, 10, 100000) == b'a' * 10
                os.pwrite(w, b'b' * 10, 100000)
                assert os.pread(r, 10, 100000) == b'b' * 10
                os.write(w, b'c' * 100000)
                assert os.pread(r, 10, 250000) == b'c' * 10
            finally:
                os.close(r)
        finally:
            os.close(w)
        data = open(g, 'rb').read()
        assert len(data) == 300000 and data[100000:100010] == b'b' * 10

    def xattr_title():
        os.setxattr(f, 'user.zope.title', b'A title')
        assert os.getxattr(f, 'user.zope.title') == b'A title'

    cases = [
        ('create, write, close, read', lambda: open(os.path.join(d, 'new.txt'), 'w').write('n')),
        ('open O_CREAT|O_EXCL of an existing file', lambda: os.close(os.open(f, os.O_CREAT | os.O_EXCL | os.O_WRONLY))),
        ('append (O_APPEND)', append),
        ('overwrite in the middle', overwrite_middle),
        ('truncate', truncate),
        ('a write seen through a descriptor opened before it', write_seen_by_earlier_reader),
        ('a write seen through a descriptor opened during it', write_seen_by_later_reader),
        ('chmod', chmod),
        ('utimens', utime),
        ('chown to another user', lambda: os.chown(f, 4242, 4242)),
        ('mkdir of an existing name', lambda: os.mkdir(os.path.join(d, 'dir'))),
        ('rmdir of a non-empty folder', lambda: os.rmdir(os.path.join(d, 'dir'))),
        ('rmdir of a file', lambda: os.rmdir(f)),
        ('rmdir of an empty folder', lambda: os.rmdir(os.path.join(d, 'empty'))),
        ('unlink of a folder', lambda: os.unlink(os.path.join(d, 'dir'))),
        ('rename over an existing file', rename_over_file),
        ('rename a folder over a file', lambda: os.rename(os.path.join(d, 'dir'), f)),
        ('rename a file over a folder', lambda: os.rename(f, os.path.join(d, 'dir'))),
        ('rename with RENAME_NOREPLACE over a file', lambda: renameat2(os.path.join(d, 'new.txt'), f, RENAME_NOREPLACE)),
        ('rename with RENAME_EXCHANGE', lambda: renameat2(os.path.join(d, 'new.txt'), f, RENAME_EXCHANGE)),
        ('symlink', lambda: os.symlink('file.txt', os.path.join(d, 'link'))),
        ('hard link', lambda: os.link(f, os.path.join(d, 'hard'))),
        ('mkfifo', lambda: os.mkfifo(os.path.join(d, 'fifo'))),
        ('a name Zope cannot hold (_private)', lambda: open(os.path.join(d, '_private'), 'w').close()),
        ('a name Zope cannot hold (a&b)', lambda: os.mkdir(os.path.join(d, 'a&b'))),
        ('a name of 256 bytes', lambda: open(os.path.join(d, 'x' * 256), 'w').close()),
        ('setxattr user.zope.title', xattr_title),
        ('setxattr of another attribute', lambda: os.setxattr(f, 'user.other', b'1')),
        ('getxattr of a missing attribute', lambda: os.getxattr(f, 'user.zope.missing')),
        ('posix_fallocate', lambda: os.posix_fallocate(os.open(f, os.O_WRONLY), 0, 100)),
        ('write to .zodbfs/info', lambda: open(os.path.join(root, '.zodbfs', 'info'), 'w').close()),
        ('mkdir inside .zodbfs', lambda: os.mkdir(os.path.join(root, '.zodbfs', 'x'))),
    ]
    for name, call in cases:
        try:
            call()
            result = 'ok'
        except OSError as e:
            result = errno.errorcode.get(e.errno, str(e.errno))
        except AssertionError:
            result = 'wrong result'
        print('%s\t%s' % (name, result), flush=True)


if __name__ == '__main__':
    main(sys.argv[1])
