"""Helpers shared by the tests (moved out of test_gauge_plots.py)."""


from __future__ import annotations

import struct
from pathlib import Path


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC, "not a PNG"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
