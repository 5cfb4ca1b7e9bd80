"""Where a node's logs go: readable lines on stderr (for a terminal or a supervisor's
journal) and JSON lines in ``DATA/node.log`` (rotated at 10 MiB, 5 kept) for machines,
at the level ``--log-level`` sets. Nothing here decides what is logged."""

from __future__ import annotations

import json
import logging
import logging.handlers
import sys
import time
from pathlib import Path

LOG_FILE = "node.log"
CHATTY = ("httpx", "httpcore", "hypercorn.access")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry)


def setup_logging(data_dir: Path, level: str) -> Path:
    """Configure the root logger; returns the JSON log file's path."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / LOG_FILE
    readable = logging.StreamHandler(sys.stderr)
    readable.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    machine = logging.handlers.RotatingFileHandler(path, maxBytes=10 << 20, backupCount=5)
    formatter = JsonFormatter()
    formatter.converter = time.gmtime
    machine.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [readable, machine]
    root.setLevel(level.upper())
    for chatty in CHATTY:
        logging.getLogger(chatty).setLevel(logging.WARNING)
    return path
