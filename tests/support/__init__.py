"""Helpers shared by the tests of every app. Test modules import from here, never from one another;
fixtures stay in the conftest.py files and are built on these.

- ``waiting``: ``wait_until`` — the one polling loop; a negative is asserted only after a positive signal.
- ``clock``: ``frozen_clock`` and ``totp_code`` — authenticator codes that cannot cross a 30 s step.
- ``races``: ``race`` and ``TRIALS`` — actions at the same moment on their own database connections.
- ``services``: ``free_port``, ``SmtpSink``, ``RedisServer``, ``TaskLog`` — the real SMTP server, Redis
  and Celery worker the test command runs.
- ``processes``: ``ROOT``, ``PRODUCTION``, ``run_python``, ``Gunicorn``, ``shared_database_url`` … — the
  portal started as another process, configured only through its environment.
"""
