"""gunicorn settings for the web container (docker-compose.yml) and for bin/run.

Command-line flags override these (bin/run binds to loopback with two workers).
"""

import ctypes
import ctypes.util
import multiprocessing
import os

bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
worker_class = "gthread"
threads = int(os.environ.get("WEB_THREADS", "2"))
timeout = 30
graceful_timeout = 20
# The portal is imported, and warmed (post_preload below), once in the master: a worker is a fork that
# serves its first request as fast as its thousandth, so replacing one costs no latency spike. Code
# changes therefore need a restart, not a HUP.
preload_app = True
# A safety net against slow leaks only (the benchmarks show none): a worker is replaced after this many
# requests, at staggered times so that workers never restart together.
max_requests = int(os.environ.get("WEB_MAX_REQUESTS", "20000"))
max_requests_jitter = max_requests // 10
# No gunicornc control socket: it would live in $HOME/.gunicorn/, shared by every gunicorn of the user.
control_socket_disable = True

# Access log on stdout: the combined format plus the duration and the request id (the one in the
# portal's own log lines), every line redacted of invitation tokens and reset keys by the logger class.
accesslog = "-"
access_log_format = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(M)sms %({x-request-id}o)s'
logger_class = "portal.gunicorn_logging.RedactingLogger"

# gunicorn never derives the scheme or anything else from forwarded headers on its own: the portal
# decides, believing them only from TRUSTED_PROXY_COUNT proxies of ours (portal/settings.py).
forwarded_allow_ips = ""
secure_scheme_headers: dict[str, str] = {}
forwarder_headers = ""


#: glibc's mallopt() parameter for the size from which malloc maps a block of its own (man 3 mallopt).
M_MMAP_THRESHOLD = -3


def tune_malloc(threshold: int = 1024 * 1024) -> bool:
    """Have glibc's malloc map every block of ``threshold`` bytes or more on its own, and unmap it when it
    is freed. By default glibc raises that threshold to the size of the largest block freed so far, so a
    password hash's 12 MiB buffer (portal/hashers.py) then came from the heap and stayed resident after
    the hash, in each thread's arena. Setting the threshold also turns the raising off. Inherited by the
    workers (forks); nothing to do where the C library is not glibc."""
    name = ctypes.util.find_library("c")
    if not name:
        return False
    try:
        mallopt = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError):
        return False
    return mallopt(M_MMAP_THRESHOLD, threshold) == 1


tune_malloc()


def when_ready(server):
    """In the master, before the first fork: load what every request needs and Django loads lazily
    (URL patterns, the templates of the page shell, both languages' catalogues), so that no worker
    pays for it on a user's request. No database connection is opened here: forks must not share one."""
    from portal.warmup import warm

    warm()
