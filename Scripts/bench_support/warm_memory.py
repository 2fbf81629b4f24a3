#!/usr/bin/env python3
"""Touches and frees memory right before a measured step, so that the step
finds warm free pages whatever ran before it.

This machine is a virtual machine whose balloon device reports free memory
back to the host (free page reporting): a page freed more than about two
seconds ago is faulted in again by the host when the guest reuses it, and
filling the page cache with such pages runs at about a third of the speed
of reusing recently freed ones (dd of 1 GiB to a file: 1.6–1.9 GB/s vs
4.5–4.7 GB/s). Which side of a comparison happens to find freshly freed
pages then decides more than the software does. Both sides of every
comparison that fills the page cache call ``touch_and_free`` first.

    warm_memory.py NBYTES    (what ``touch_and_free`` runs)
"""
import subprocess
import sys


def touch_and_free(nbytes):
    """Touch ``nbytes`` in a child process, which frees them as it exits:
    the caller's own memory (its peak RSS, if measured) is unchanged."""
    subprocess.run([sys.executable, __file__, str(nbytes)], check=True)


if __name__ == '__main__':
    n = int(sys.argv[1])
    block = bytearray(n)
    block[::4096] = b'\x01' * len(range(0, n, 4096))
