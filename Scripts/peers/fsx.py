"""A data-integrity exerciser in the spirit of fsx: random writes,
truncations, appends and reads on a few files in a mounted folder, every
read checked against a shadow copy kept on the local disk.

    fsx.py FOLDER SHADOW [--seed S] [--ops N] [--files K] [--verify-only]

FOLDER is in the mount; SHADOW is a local folder holding the expected bytes
(created on the first run, reused by the next, so a run can continue after a
remount). Files stay open across several operations and are closed (which
commits them) at random moments, so reads meet both committed bytes and
bytes still in the mount's spool. Offsets and lengths are drawn to cross
the 64 KiB chunk boundaries of Zope's Pdata chains.

Prints a JSON summary; exits 1 when any read differs from the shadow.
"""
import argparse
import json
import os
import random
import sys

CHUNK = 1 << 16


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('folder')
    parser.add_argument('shadow')
    parser.add_argument('--seed', type=int, default=1)
    parser.add_argument('--ops', type=int, default=1000)
    parser.add_argument('--files', type=int, default=3)
    parser.add_argument('--verify-only', action='store_true')
    args = parser.parse_args()
    rng = random.Random(args.seed)
    os.makedirs(args.folder, exist_ok=True)
    os.makedirs(args.shadow, exist_ok=True)
    names = ['fsx-%d.bin' % i for i in range(args.files)]
    shadow = {}
    for name in names:
        path = os.path.join(args.shadow, name)
        shadow[name] = bytearray(open(path, 'rb').read()) if os.path.exists(path) else None
    stats = {'ops': 0, 'writes': 0, 'truncates': 0, 'reads': 0, 'bytes_checked': 0, 'closes': 0, 'mismatches': []}
    handles = {}

    def handle(name):
        if name not in handles:
            flags = os.O_RDWR | (os.O_CREAT if shadow[name] is None else 0)
            handles[name] = os.open(os.path.join(args.folder, name), flags, 0o644)
            if shadow[name] is None:
                shadow[name] = bytearray()
        return handles[name]

    def check(name, offset, length, fd=None):
        expected = bytes(shadow[name][offset:offset + length])
        if fd is None:
            with open(os.path.join(args.folder, name), 'rb') as f:
                f.seek(offset)
                got = f.read(length)
        else:
            got = os.pread(fd, length, offset)
        stats['reads'] += 1
        stats['bytes_checked'] += len(got)
        if got != expected:
            first = next((i for i in range(min(len(got), len(expected))) if got[i] != expected[i]),
                         min(len(got), len(expected)))
            stats['mismatches'].append({'file': name, 'offset': offset, 'length': length, 'got': len(got),
                                        'expected': len(expected), 'first_difference': offset + first,
                                        'op': stats['ops']})

    def boundary_offset(size):
        # Often right at, or just around, a 64 KiB boundary.
        if size and rng.random() < 0.5:
            base = rng.randrange(0, size // CHUNK + 2) * CHUNK
            return max(0, base + rng.randrange(-3, 4))
        return rng.randrange(0, size + 1) if size else 0

    if not args.verify_only:
        for _ in range(args.ops):
            stats['ops'] += 1
            name = rng.choice(names)
            fd = handle(name)
            data = shadow[name]
            op = rng.random()
            if op < 0.40:
                offset = min(boundary_offset(len(data)), len(data) + 3 * CHUNK)
                length = rng.choice([1, 7, 4096, CHUNK - 1, CHUNK, CHUNK + 1, rng.randrange(1, 3 * CHUNK)])
                payload = rng.randbytes(length)
                os.pwrite(fd, payload, offset)
                if offset > len(data):
                    data.extend(b'\0' * (offset - len(data)))
                data[offset:offset + length] = payload
                stats['writes'] += 1
            elif op < 0.50:
                size = min(boundary_offset(len(data) + CHUNK), len(data) + 2 * CHUNK)
                os.ftruncate(fd, size)
                if size < len(data):
                    del data[size:]
                else:
                    data.extend(b'\0' * (size - len(data)))
                stats['truncates'] += 1
            elif op < 0.60:
                payload = rng.randbytes(rng.randrange(1, 2 * CHUNK))
                os.pwrite(fd, payload, len(data))
                data.extend(payload)
                stats['writes'] += 1
            elif op < 0.85:
                offset = boundary_offset(len(data))
                check(name, offset, rng.randrange(1, 3 * CHUNK), fd)
            else:
                os.close(fd)
                del handles[name]
                stats['closes'] += 1
                check(name, 0, len(data) + 10)
    for name, fd in list(handles.items()):
        os.close(fd)
        stats['closes'] += 1
    for name in names:
        if shadow[name] is not None:
            check(name, 0, len(shadow[name]) + 10)
            if os.path.getsize(os.path.join(args.folder, name)) != len(shadow[name]):
                stats['mismatches'].append({'file': name, 'size': os.path.getsize(os.path.join(args.folder, name)),
                                            'expected_size': len(shadow[name])})
            with open(os.path.join(args.shadow, name), 'wb') as f:
                f.write(shadow[name])
    json.dump(stats, sys.stdout)
    sys.exit(1 if stats['mismatches'] else 0)


if __name__ == '__main__':
    main()
