"""gunicorn.conf.py's tune_malloc: a large block (a password hash's 12 MiB) goes back to the system when it
is freed, instead of staying resident in the worker after glibc raised its mmap threshold."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

#: Allocates, touches and frees 12 MiB twice, then prints how much the process's RSS grew (KiB).
SCRIPT = """
import ctypes, ctypes.util, runpy, sys
if sys.argv[1] == "tuned":
    assert runpy.run_path("gunicorn.conf.py")["tune_malloc"]() is True
libc = ctypes.CDLL(ctypes.util.find_library("c"))
libc.malloc.restype = ctypes.c_void_p
libc.malloc.argtypes = [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
before = rss()
size = 12 << 20
for _ in range(2):
    block = libc.malloc(size)
    ctypes.memset(block, 1, size)
    libc.free(block)
print(rss() - before)
"""


def _growth_kib(mode: str) -> int:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, mode], cwd=ROOT, capture_output=True, text=True, check=True, timeout=60
    )
    return int(done.stdout.strip())


def test_a_freed_large_block_leaves_the_worker_once_malloc_is_tuned():
    assert _growth_kib("default") > 10 * 1024  # glibc's default: the second block stays resident
    assert _growth_kib("tuned") < 2 * 1024
