"""What every service accepts as a frame: a JPEG of sane size, checked from its header before any decoding."""
from __future__ import annotations

import re

JPEG_MAGIC = b"\xff\xd8\xff"
MAX_JPEG_BYTES = 2 << 20       # a 640 px frame is ~50 kB; a phone's full-size photo stays under this
MAX_SIDE = 4096                # larger pictures are refused before a decoder allocates for them
SESSION_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")

# Start-of-frame markers that carry the image size (baseline, progressive, lossless, arithmetic...).
_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
_STANDALONE = {0x01, 0xD8, *range(0xD0, 0xD8)}


class BadFrame(ValueError):
    """A frame refused before decoding; `code` names the fault (for counting, HTTP answers and logs)."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


def jpeg_dimensions(data: bytes) -> tuple[int, int] | None:
    """(width, height) from the JPEG's start-of-frame header, or None if there is none before the scan."""
    i = 2
    n = len(data)
    while i + 4 <= n:
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte before a marker
            i += 1
            continue
        if marker in _STANDALONE:
            i += 2
            continue
        if marker in (0xD9, 0xDA):  # end of image / start of scan: no frame header came first
            return None
        length = int.from_bytes(data[i + 2:i + 4], "big")
        if marker in _SOF:
            if i + 9 > n or length < 7:
                return None
            height = int.from_bytes(data[i + 5:i + 7], "big")
            width = int.from_bytes(data[i + 7:i + 9], "big")
            return width, height
        i += 2 + length
    return None


def check_jpeg(data: bytes, max_bytes: int = MAX_JPEG_BYTES, max_side: int = MAX_SIDE) -> tuple[int, int]:
    """The frame's (width, height), or BadFrame saying what is wrong with it."""
    if not data:
        raise BadFrame("empty", "the frame is empty; send one JPEG")
    if len(data) > max_bytes:
        raise BadFrame("too_large", f"frame of {len(data)} bytes; the limit is {max_bytes}")
    if not data.startswith(JPEG_MAGIC):
        raise BadFrame("not_jpeg", "the frame is not a JPEG (it must start with FF D8 FF)")
    size = jpeg_dimensions(data)
    if size is None:
        raise BadFrame("bad_jpeg", "the JPEG has no readable frame header")
    width, height = size
    if not (0 < width <= max_side and 0 < height <= max_side):
        raise BadFrame("bad_size", f"frame of {width}x{height}; each side must be 1..{max_side}")
    return width, height


def check_session(session: str) -> str:
    if not SESSION_ID.match(session or ""):
        raise BadFrame("bad_session", "session ids are 1-64 letters, digits and _.:- only")
    return session
