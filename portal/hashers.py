"""How passwords are hashed: Argon2id with the first configuration OWASP recommends.

Django's Argon2 defaults ask for 100 MiB and 8 lanes per hash: every web worker that served a sign-in
then held 220-330 MB (bench/load.py), and two sign-ins at once saturated both cores. OWASP's Password
Storage Cheat Sheet lists m=19 MiB, t=2, p=1 as its first, equivalent-strength choice. The algorithm name
stays ``argon2``, so hashes made with other parameters still verify and are rehashed with these at the
user's next sign-in (Django's ``must_update``).
"""

from django.contrib.auth.hashers import Argon2PasswordHasher


class PortalArgon2PasswordHasher(Argon2PasswordHasher):
    time_cost = 2
    memory_cost = 19 * 1024  # KiB
    parallelism = 1
