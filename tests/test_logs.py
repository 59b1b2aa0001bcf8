"""logs.py: what --debug puts on stderr."""
from __future__ import annotations

import io
import logging

from PIL import Image

from tray_monitor.logs import setup_logging


def test_debug_logging_leaves_out_pillows_png_chunk_lines(tmp_path):
    """Under --debug, Pillow's PIL.PngImagePlugin wrote a "STREAM b'IHDR'" line per chunk of every
    PNG it read (the digit atlas at each redraw)."""
    stderr = io.StringIO()
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    try:
        setup_logging(tmp_path / "log", debug=True, stderr=stderr)
        png = tmp_path / "x.png"
        Image.new("RGBA", (4, 4)).save(png)
        with Image.open(png) as image:
            image.load()
        logging.getLogger("tray_monitor.test").debug("our own debug line")
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
            handler.close()
        for handler in saved[0]:
            root.addHandler(handler)
        root.setLevel(saved[1])
    assert "our own debug line" in stderr.getvalue()
    assert "STREAM" not in stderr.getvalue()
