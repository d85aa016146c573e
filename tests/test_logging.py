import json
import logging

from portal import request_context
from portal.logging import JsonFormatter, RequestContextFilter


def test_json_log_lines_carry_the_request_id():
    request_context.bind(request_id="abc123def456", ip="198.51.100.4")
    try:
        record = logging.makeLogRecord(
            {
                "name": "portal",
                "levelname": "INFO",
                "msg": "Sent %s",
                "args": ("x",),
                "outbox_id": "42",
            }
        )
        RequestContextFilter().filter(record)
        entry = json.loads(JsonFormatter().format(record))
    finally:
        request_context.clear()
    assert entry["message"] == "Sent x"
    assert entry["request_id"] == "abc123def456"
    assert entry["level"] == "INFO"
    assert entry["outbox_id"] == "42"
    assert entry["time"].endswith("+00:00")
