"""gunicorn's logger, with link secrets redacted from every line it writes (named in gunicorn.conf.py).

The access log prints each request line and referrer, and the error log prints the URI of a request
that failed: both go through ``portal.logging.redact`` after gunicorn has formatted them.
"""

from gunicorn.glogging import Logger

from portal.logging import RedactingFormatter


class RedactingLogger(Logger):
    def setup(self, cfg):
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                if not isinstance(handler.formatter, RedactingFormatter):
                    handler.setFormatter(RedactingFormatter(handler.formatter))
