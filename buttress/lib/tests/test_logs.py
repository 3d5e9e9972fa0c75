import json
import logging
import sys

from buttress.lib.logs import JsonFormatter


def _record(msg: str, *args: object, **extra: object) -> logging.LogRecord:
    record = logging.makeLogRecord(
        {"name": "buttress.test", "levelname": "WARNING", "msg": msg, "args": args}
    )
    record.__dict__.update(extra)
    return record


def test_a_record_becomes_one_json_object_per_line():
    line = JsonFormatter().format(_record("claimed %d rows", 3))

    payload = json.loads(line)
    assert "\n" not in line
    assert payload["msg"] == "claimed 3 rows"
    assert payload["level"] == "warning"
    assert payload["logger"] == "buttress.test"
    assert payload["ts"].endswith("+00:00")


def test_extra_fields_are_kept_and_non_scalars_are_stringified():
    payload = json.loads(
        JsonFormatter().format(_record("x", event="api_token_expired", ids=[1, 2], n=4))
    )

    assert payload["event"] == "api_token_expired"
    assert payload["ids"] == "[1, 2]"
    assert payload["n"] == 4


def test_an_exception_is_included_with_its_traceback():
    try:
        raise ValueError("bad input")
    except ValueError:
        record = logging.LogRecord("t", logging.ERROR, __file__, 1, "failed", (), None)
        record.exc_info = sys.exc_info()

    payload = json.loads(JsonFormatter().format(record))

    assert payload["msg"] == "failed"
    assert "ValueError: bad input" in payload["exc"]
