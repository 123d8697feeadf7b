"""Audit records as OCSF events (``codeward logs export --format ocsf``), pure.

Schema (OCSF 1.1 names; the README's "Audit" section repeats this table):

==================  ==========================================  ==============================
record type         OCSF class (class_uid) / activity_id        mapped fields
==================  ==========================================  ==============================
``command``         Process Activity (1007) / 1 Launch          ``process.cmd_line``,
                                                                ``actor.process``, ``status``,
                                                                ``status_code`` (exit code)
``file.change``     File System Activity (1001) / 1 Create,     ``file.path``, ``file.hashes``
                    3 Update, 4 Delete, 5 Rename                (SHA-256 after the change)
``request.sent``    HTTP Activity (4002) / 6 Post               ``dst_endpoint.hostname``,
                                                                ``traffic.bytes_out``
anything else       Base Event (0) / 99 Other                   ``message``
==================  ==========================================  ==============================

Every event also has ``time`` (ms since the epoch), ``severity_id`` 1 (informational), ``message``
(the one-line summary ``logs show`` prints), ``metadata`` (product codeward, ``uid`` =
``<sid>:<seq>``, ``correlation_uid`` = the session id, ``log_name`` = "codeward-audit"),
``unmapped`` (every field of the record not mapped above, including decisions' ``decided_by``,
``rule`` and ``source``) and ``raw_data`` (the record's exact line, which ``logs verify`` can still
check). ``type_uid`` is ``class_uid * 100 + activity_id``.
"""

from __future__ import annotations

import shlex
from datetime import datetime
from typing import Any

OCSF_VERSION = "1.1.0"
_FILE_ACTIVITY = {"add": 1, "update": 3, "delete": 4, "move": 5, "rename": 5}
_SKIP = {"seq", "ts", "sid", "type", "prev", "hash", "mac"}


def _epoch_ms(ts: object) -> int | None:
    if not isinstance(ts, str):
        return None
    try:
        return int(datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp() * 1000)
    except ValueError:
        return None


def to_ocsf(rec: dict[str, Any], line: bytes, summary: str, version: str) -> dict[str, Any]:
    """One record (and its exact line) as an OCSF event."""
    kind = str(rec.get("type"))
    g = rec.get
    unmapped = {k: v for k, v in rec.items() if k not in _SKIP}
    event: dict[str, Any]
    if kind == "command":
        argv = g("argv")
        cmd = shlex.join(argv) if isinstance(argv, list) and all(isinstance(a, str) for a in argv) else str(argv)
        code = g("exit_code")
        event = {
            "class_uid": 1007,
            "category_uid": 1,
            "activity_id": 1,
            "process": {"cmd_line": cmd},
            "status": "Success" if code == 0 else "Failure",
            "status_code": None if code is None else str(code),
        }
    elif kind == "file.change":
        after = g("sha256_after")
        file: dict[str, Any] = {"path": g("path"), "name": str(g("path") or "").rsplit("/", 1)[-1]}
        if after:
            file["hashes"] = [{"algorithm_id": 3, "algorithm": "SHA-256", "value": after}]
        event = {
            "class_uid": 1001,
            "category_uid": 1,
            "activity_id": _FILE_ACTIVITY.get(str(g("kind")), 99),
            "file": file,
        }
    elif kind == "request.sent":
        event = {
            "class_uid": 4002,
            "category_uid": 4,
            "activity_id": 6,
            "dst_endpoint": {"hostname": g("host")},
            "traffic": {"bytes_out": g("bytes")},
        }
    else:
        event = {"class_uid": 0, "category_uid": 0, "activity_id": 99}
    event["type_uid"] = event["class_uid"] * 100 + event["activity_id"]
    event.update(
        {
            "time": _epoch_ms(g("ts")),
            "severity_id": 1,
            "message": f"{kind}: {summary}",
            "metadata": {
                "version": OCSF_VERSION,
                "product": {"name": "codeward", "vendor_name": "codeward", "version": version},
                "uid": f"{g('sid')}:{g('seq')}",
                "correlation_uid": g("sid"),
                "log_name": "codeward-audit",
                "original_time": g("ts"),
            },
            "unmapped": unmapped,
            "raw_data": line.decode("ascii", "replace"),
        }
    )
    return event
