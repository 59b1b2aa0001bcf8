"""Tools that write image files from the icon drawing (`icon.py` only draws, in memory).

- `gallery OUT.png`: every state at every size and variant on one sheet; kept committed as
  assets/icon-gallery.png (tests/test_icon_tools.py checks it is current).
- `app-icons DIR`: the app icon as PNGs per size and one Windows .ico; committed both in assets/ and
  in tray_monitor/assets/, where the PyInstaller spec looks for them.
- `digit-atlas OUT.png`: the digits of the bundled font for tray_monitor/assets/digits.png, so that
  drawing the tray icon never calls FreeType.

Run as `python -m tray_monitor.icon gallery assets/icon-gallery.png` (the documented command; also
`python -m tray_monitor.icon_tools ...`).
"""
from __future__ import annotations

import functools
import io
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from tray_monitor.icon import render_app_icon, render_icon
from tray_monitor.model import IconSpec, IconState
from tray_monitor.view import severity_for_percent

GALLERY_SIZES = (16, 22, 24, 32, 64)
APP_ICON_SIZES = (16, 32, 48, 64, 128, 256)

_FONT_FILE = "DejaVuSansCondensed-Bold.ttf"  # gallery labels, and the source of the digit atlas
_ATLAS_FONT_SIZE = 200


# ---------------------------------------------------------------------------------------- fonts

@functools.lru_cache(maxsize=8)
def _font(pixel_size: int) -> ImageFont.FreeTypeFont:
    # Bundled: never depend on a system font at run time. Read as bytes, so a zipped or frozen
    # package works too (FreeType reads the font lazily; a temporary file could vanish first).
    data = (resources.files("tray_monitor") / "assets" / _FONT_FILE).read_bytes()
    return ImageFont.truetype(io.BytesIO(data), pixel_size)


def render_digit_atlas() -> Image.Image:
    """The ten digits of the bundled font in equal cells, cropped to their common height ("L").

    Shipped as assets/digits.png so that drawing the tray icon never calls FreeType: with the
    gtk/appindicator backends, Gtk loaded before PIL.ImageFont makes FreeType measure garbage
    (here: a 187-megapixel text box, DecompressionBombError) or draw nothing.
    """
    font = _font(_ATLAS_FONT_SIZE)
    cell = math.ceil(font.getlength("0"))  # DejaVu's digits are tabular: one advance for all
    ascent, descent = font.getmetrics()
    strip = Image.new("L", (cell * 10, ascent + descent), 0)
    draw = ImageDraw.Draw(strip)
    for digit in range(10):
        draw.text((digit * cell, 0), str(digit), font=font, fill=255)
    bbox = strip.getbbox()
    assert bbox is not None
    return strip.crop((0, bbox[1], strip.width, bbox[3]))


# ------------------------------------------------------------------------------------- gallery

@dataclass(frozen=True)
class GalleryCase:
    label: str
    spec: IconSpec


def gallery_cases() -> tuple[GalleryCase, ...]:
    cases: list[GalleryCase] = []
    for percent in (0, 7, 42, 78, 93, 100, 104):
        severity = severity_for_percent(percent)
        cases.append(GalleryCase(f"ok {percent}% {severity}", IconSpec("ok", percent, None, severity)))
    for percent, weekly in ((42, 63), (78, 20), (93, 97), (104, 100), (7, 0)):
        severity = severity_for_percent(percent)
        cases.append(GalleryCase(f"ok {percent}% +week {weekly}%",
                                 IconSpec("ok", percent, weekly, severity)))
    cases.append(GalleryCase("ok 42% server:critical", IconSpec("ok", 42, None, "critical")))
    cases.append(GalleryCase("stale 42%", IconSpec("stale", 42, None, "normal")))
    cases.append(GalleryCase("stale 93% +week 50%", IconSpec("stale", 93, 50, "critical")))
    cases.append(GalleryCase("stale 104%", IconSpec("stale", 104, None, "critical")))
    cases.append(GalleryCase("stale, no number", IconSpec("stale")))
    # Several logins: another one than the shown is critical (the top-left dot).
    cases.append(GalleryCase("ok 42%, other login crit.", IconSpec("ok", 42, None, "normal", True)))
    cases.append(GalleryCase("ok 78% +week, other crit.", IconSpec("ok", 78, 40, "warning", True)))
    cases.append(GalleryCase("ok 93%, other login crit.", IconSpec("ok", 93, None, "critical", True)))
    cases.append(GalleryCase("stale 42%, other crit.", IconSpec("stale", 42, None, "normal", True)))
    glyph_states: tuple[tuple[IconState, str], ...] = (
        ("loading", "loading"), ("signed_out", "signed out / expired"),
        ("no_scope", "no usage scope"), ("error", "offline / error"))
    for state, label in glyph_states:
        cases.append(GalleryCase(label, IconSpec(state)))
    return tuple(cases)


_VARIANTS = (
    ("colour on dark panel", (32, 32, 32), False, False),
    ("colour on light panel", (235, 235, 235), False, False),
    ("template (macOS)", (235, 235, 235), True, False),
    ("opaque (xorg)", (128, 128, 128), False, True),
)
_CELL_PAD = 6
_LABEL_WIDTH = 190
_HEADER_HEIGHT = 40


def gallery_size(cases: Sequence[GalleryCase] | None = None,
                 sizes: Sequence[int] = GALLERY_SIZES) -> tuple[int, int]:
    cases = gallery_cases() if cases is None else cases
    group_width = sum(sizes) + _CELL_PAD * (len(sizes) + 1)
    row_height = max(sizes) + _CELL_PAD
    return (_LABEL_WIDTH + len(_VARIANTS) * group_width,
            _HEADER_HEIGHT + len(cases) * row_height + _CELL_PAD)


def render_gallery(cases: Sequence[GalleryCase] | None = None,
                   sizes: Sequence[int] = GALLERY_SIZES) -> Image.Image:
    """Every case x size x variant on one sheet, with labelled rows and column groups."""
    cases = gallery_cases() if cases is None else cases
    width, height = gallery_size(cases, sizes)
    sheet = Image.new("RGBA", (width, height), (250, 250, 250, 255))
    draw = ImageDraw.Draw(sheet)
    label_font = _font(13)
    group_width = sum(sizes) + _CELL_PAD * (len(sizes) + 1)
    row_height = max(sizes) + _CELL_PAD
    for index, (title, background, _template, _opaque) in enumerate(_VARIANTS):
        gx = _LABEL_WIDTH + index * group_width
        draw.rectangle((gx, 0, gx + group_width - 2, height - 1), fill=background + (255,))
        text_colour = (0, 0, 0) if sum(background) > 380 else (255, 255, 255)
        draw.text((gx + _CELL_PAD, 4), title, font=label_font, fill=text_colour)
        x = gx + _CELL_PAD
        for size in sizes:
            draw.text((x, 22), f"{size}", font=label_font, fill=text_colour)
            x += size + _CELL_PAD
    for row, case in enumerate(cases):
        y = _HEADER_HEIGHT + row * row_height
        draw.text((6, y + (max(sizes) - 13) // 2), case.label, font=label_font, fill=(0, 0, 0))
        for index, (_, _, template, opaque) in enumerate(_VARIANTS):
            x = _LABEL_WIDTH + index * group_width + _CELL_PAD
            for size in sizes:
                icon = render_icon(case.spec, size, template=template, opaque=opaque)
                sheet.alpha_composite(icon, (x, y + (max(sizes) - size) // 2))
                x += size + _CELL_PAD
    return sheet


# ---------------------------------------------------------------------------------- command line

_USAGE = ("usage: python -m tray_monitor.icon gallery OUT.png\n"
          "       python -m tray_monitor.icon app-icons DIR\n"
          "       python -m tray_monitor.icon digit-atlas OUT.png   (tray_monitor/assets/digits.png)")


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 2 or args[0] not in ("gallery", "app-icons", "digit-atlas"):
        print(_USAGE, file=sys.stderr)
        return 2
    command, target = args
    try:
        if command == "gallery":
            render_gallery().save(target, format="PNG")
            print(f"wrote {target}")
        elif command == "digit-atlas":
            render_digit_atlas().save(target, format="PNG", optimize=True)
            print(f"wrote {target}")
        else:
            directory = Path(target)
            directory.mkdir(parents=True, exist_ok=True)
            icons = {size: render_app_icon(size) for size in APP_ICON_SIZES}
            for size, image in icons.items():
                path = directory / f"claude-tray-{size}.png"
                image.save(path, format="PNG")
                print(f"wrote {path}")
            # Windows wants one .ico holding every size; each drawn at its size, not downscaled.
            ico = directory / "claude-tray.ico"
            largest = max(APP_ICON_SIZES)
            icons[largest].save(ico, format="ICO", sizes=[(s, s) for s in APP_ICON_SIZES],
                                append_images=[icons[s] for s in APP_ICON_SIZES if s != largest])
            print(f"wrote {ico}")
    except OSError as error:
        print(f"Could not write {target}: {error.strerror or error}. "
              "Check that the folder exists and is writable.", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
