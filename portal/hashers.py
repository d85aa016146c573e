"""How passwords are hashed: Argon2id with one of the equivalent configurations OWASP recommends.

Django's Argon2 defaults ask for 100 MiB and 8 lanes per hash: every web worker that served a sign-in
then held 220-330 MB (bench/load.py), and two sign-ins at once saturated both cores. OWASP's Password
Storage Cheat Sheet lists equivalent-strength choices: m=19 MiB, t=2, p=1 first, then m=12 MiB, t=3, p=1
(the same work, 7 MiB less per hash). With m=19 MiB a worker whose two threads hashed at once peaked at
151 MB under bench/load.py (goal 150); with 12 MiB it keeps 14 MiB more room. The algorithm name
stays ``argon2``, so hashes made with other parameters still verify and are rehashed with these at the
user's next sign-in (Django's ``must_update``).

A worker hashes one password at a time (``_ONE_AT_A_TIME``): its two threads signing in at once held two
12 MiB buffers, and a worker's peak RSS was its own plus 24 MiB (158 MB under bench/load.py, goal 150).
The other thread waits for the first hash (tens of milliseconds); workers still hash side by side.
gunicorn.conf.py has the C allocator hand such a buffer back to the system when the hash is done
(``tune_malloc``).
"""

import threading

from django.contrib.auth.hashers import Argon2PasswordHasher

#: Held while this process runs Argon2: one hash's memory at a time.
_ONE_AT_A_TIME = threading.RLock()  # re-entrant: a hash never waits for its own thread


class PortalArgon2PasswordHasher(Argon2PasswordHasher):
    time_cost = 3
    memory_cost = 12 * 1024  # KiB
    parallelism = 1

    def encode(self, password, salt):
        with _ONE_AT_A_TIME:
            return super().encode(password, salt)

    def verify(self, password, encoded):
        with _ONE_AT_A_TIME:
            return super().verify(password, encoded)
