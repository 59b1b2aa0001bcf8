"""The tray image: `render_icon(spec, size)` draws an `IconSpec` (pure: no I/O, no threads).

What a glance must tell apart, at 16 px and without relying on colour:
- ok: the binding window's percent as digits on a plate. Severity is carried by colour AND shape:
  normal = dark plate, light digits; warning = light (amber) plate, dark digits; critical = red plate
  with a white frame. At 100 % and over the digits give way to a "full" sign (a no-entry disc), so
  "100" is never squeezed into 16 px.
- stale (kept reading, too old, or rate-limited): the last percent in light grey on the same solid
  dark plate (legible on light panels too), its top-right corner folded down as an amber
  triangle that never covers a digit. (A dashed edge read as a cog at 22-24 px, and grey digits
  on a see-through plate vanished on light panels.)
- loading = three dots, signed out / login expired = a person, no usage scope = a padlock,
  offline / error = "!".
- a thin bar along the bottom shows the weekly window when the spec carries one.
- another login critical (several logins, `other_critical`): a red dot in the top-left corner,
  ringed in near-black (cut out in the template), whatever the shown login's state; it covers the
  plate's rounded corner there, as the stale fold does on the right.

`template=True` (macOS menu bar, where only alpha survives): black on transparent; severity by shape
(normal = bare digits, warning = framed, critical = solid plate with the digits cut out).
`opaque=True` (pystray's xorg backend drops alpha, so transparent corners turn black, and it stretches
the image to the slot): every pixel is fully opaque and the plate fills the square.

Small sizes get a hand-tuned pixel font (TrueType digits blur below ~20 px); larger ones scale the
digits of DejaVu Sans Condensed Bold, pre-rendered into assets/digits.png so that drawing an icon
never needs FreeType (see icon_tools.render_digit_atlas). Fonts are cached, images are not.

`python -m tray_monitor.icon gallery|app-icons|digit-atlas ...` runs the tools that write the
gallery, the app icons and the digit atlas: they live in `icon_tools`, this module only draws.
"""
from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources

# PIL.ImageFont is imported at module top on purpose: with pystray's gtk/appindicator backends,
# Gtk imported before PIL.ImageFont binds the system FreeType, and text is then measured wrong or
# drawn as nothing. The icon itself no longer needs FreeType (digit atlas), but the tools do, and
# the tray imports this module before pystray so that any later ImageFont user gets a working one.
from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageFont  # noqa: F401 - ImageFont: see above

from tray_monitor.fmt import percent_number
from tray_monitor.model import ICON_STATES, SEVERITIES, IconSpec, IconState, Severity

MIN_SIZE = 8

_ATLAS_FILE = "digits.png"  # made by icon_tools.render_digit_atlas
#: Below this size digits come from the pixel fonts; from here on from the digit atlas.
_ATLAS_FROM = 28
#: Geometric shapes are drawn this many times larger, then box-filtered down (anti-aliasing that
#: keeps pixel-aligned edges crisp).
_SUPERSAMPLE = 4

RGBA = tuple[int, int, int, int]


# --------------------------------------------------------------------------------------- colours

@dataclass(frozen=True)
class _Look:
    plate: RGBA
    ink: RGBA
    frame: RGBA | None = None  # solid frame round the plate (critical)
    corner: RGBA | None = None  # folded top-right corner (stale)


_DARK = (43, 49, 56, 255)
_WHITE = (255, 255, 255, 255)
_AMBER = (245, 166, 0, 255)
_INK_ON_AMBER = (26, 26, 26, 255)
_RED = (214, 45, 38, 255)

_LOOKS = {
    ("ok", "normal"): _Look(plate=_DARK, ink=_WHITE),
    ("ok", "warning"): _Look(plate=_AMBER, ink=_INK_ON_AMBER),
    ("ok", "critical"): _Look(plate=_RED, ink=_WHITE, frame=_WHITE),
    # Old news: the solid plate (contrast 7:1 for the grey digits on any panel), amber corner.
    ("stale", None): _Look(plate=_DARK, ink=(186, 191, 196, 255), corner=_AMBER),
    ("loading", None): _Look(plate=_DARK, ink=(200, 204, 208, 255)),
    ("signed_out", None): _Look(plate=(26, 115, 232, 255), ink=_WHITE),
    ("no_scope", None): _Look(plate=(110, 80, 190, 255), ink=_WHITE),
    ("error", None): _Look(plate=_DARK, ink=(255, 128, 90, 255)),
}
_OPAQUE_BACKDROP = _DARK[:3] + (255,)


# ------------------------------------------------------------------------------------ pixel font
# 5 x 9 digits with 2-px strokes, for 16-21 px icons: TrueType at 9 px height smears into grey.
_PIXEL_DIGITS_5X9: dict[str, tuple[str, ...]] = {
    "0": (".###.", "##.##", "##.##", "##.##", "##.##", "##.##", "##.##", "##.##", ".###."),
    "1": ("..##.", ".###.", "####.", "..##.", "..##.", "..##.", "..##.", "..##.", "..##."),
    "2": (".###.", "##.##", "...##", "...##", "..##.", ".##..", "##...", "##...", "#####"),
    "3": ("####.", "...##", "...##", "...##", ".###.", "...##", "...##", "...##", "####."),
    "4": ("##.##", "##.##", "##.##", "##.##", "#####", "...##", "...##", "...##", "...##"),
    "5": ("#####", "##...", "##...", "####.", "...##", "...##", "...##", "##.##", ".###."),
    "6": (".###.", "##...", "##...", "####.", "##.##", "##.##", "##.##", "##.##", ".###."),
    "7": ("#####", "...##", "...##", "..##.", "..##.", ".##..", ".##..", ".##..", ".##.."),
    "8": (".###.", "##.##", "##.##", "##.##", ".###.", "##.##", "##.##", "##.##", ".###."),
    "9": (".###.", "##.##", "##.##", "##.##", ".####", "...##", "...##", "##.##", ".###."),
}
# 7 x 12 digits with 2-px strokes, for 22-27 px icons (22 and 24 are the common panel sizes).
_PIXEL_DIGITS_7X12: dict[str, tuple[str, ...]] = {
    "0": (".#####.", "#######", "##...##", "##...##", "##...##", "##...##",
          "##...##", "##...##", "##...##", "##...##", "#######", ".#####."),
    "1": ("..###..", ".####..", "##.##..", "...##..", "...##..", "...##..",
          "...##..", "...##..", "...##..", "...##..", "...##..", "...##.."),
    "2": (".#####.", "#######", "##...##", ".....##", "....###", "...###.",
          "..###..", ".###...", "###....", "##.....", "#######", "#######"),
    "3": ("######.", "#######", ".....##", ".....##", ".....##", "..####.",
          "..#####", ".....##", ".....##", ".....##", "#######", "######."),
    "4": ("##...##", "##...##", "##...##", "##...##", "##...##", "#######",
          "#######", ".....##", ".....##", ".....##", ".....##", ".....##"),
    "5": ("#######", "#######", "##.....", "##.....", "######.", "#######",
          ".....##", ".....##", ".....##", "##...##", "#######", ".#####."),
    "6": (".#####.", "#######", "##.....", "##.....", "######.", "#######",
          "##...##", "##...##", "##...##", "##...##", "#######", ".#####."),
    "7": ("#######", "#######", ".....##", ".....##", "....##.", "....##.",
          "...##..", "...##..", "..##...", "..##...", "..##...", "..##..."),
    "8": (".#####.", "#######", "##...##", "##...##", "##...##", ".#####.",
          ".#####.", "##...##", "##...##", "##...##", "#######", ".#####."),
    "9": (".#####.", "#######", "##...##", "##...##", "##...##", "#######",
          ".######", ".....##", ".....##", ".....##", "#######", "######."),
}
#: Pixel fonts by size, largest first: (glyph width, glyph height, glyphs).
_PIXEL_FONTS = ((7, 12, _PIXEL_DIGITS_7X12), (5, 9, _PIXEL_DIGITS_5X9))


# ---------------------------------------------------------------------------------------- public

def render_icon(spec: IconSpec, size: int = 64, template: bool = False,
                opaque: bool = False) -> Image.Image:
    """Draw `spec` as a `size` x `size` RGBA image.

    template: black on transparent, state by shape and alpha only (macOS menu bar).
    opaque: no transparent pixel anywhere (pystray's xorg backend drops alpha).
    """
    if spec.state not in ICON_STATES:
        raise ValueError(f"unknown icon state {spec.state!r}; expected one of {ICON_STATES}")
    if size < MIN_SIZE:
        raise ValueError(f"icon size {size} is too small; draw at least {MIN_SIZE} px")
    if template and opaque:
        raise ValueError("template and opaque exclude each other: a template image lives on alpha")
    severity: Severity = spec.severity if spec.severity in SEVERITIES else "normal"
    text = _percent_text(spec.percent)
    weekly = _finite(spec.weekly_percent)
    # A template glyph has no plate or frame to keep clear of, so it may use the whole square.
    bare = template and spec.state in ("loading", "signed_out", "no_scope", "error")
    geometry = _Geometry(size, has_bar=weekly is not None, square=opaque, bare=bare, mark=spec.other_critical)
    content = _content_mask(spec.state, text, geometry)
    if template:
        image = _compose_template(spec.state, severity, content, weekly, geometry)
    else:
        image = _compose_colour(spec.state, severity, content, weekly, geometry, opaque)
    if spec.other_critical:
        image = _add_mark(image, geometry, template, content)
    return image


def percent_label(percent: float | None) -> str | None:
    """What the icon writes for a percent: "0".."99", "full" from 100 % on, None for no number.

    99.6 % shows "99", not "100": the limit is not reached until the server says 100.
    """
    return _percent_text(percent)


# ------------------------------------------------------------------------------------- geometry

class _Geometry:
    """Where things go on a `size` square, in whole target pixels.

    `mark` (another login critical): the dot takes the top-left corner and the content box starts
    clear of it: down and right by the dot's reach; below _ATLAS_FROM by one pixel only (the
    pixel font must still fit), the weekly bar moving down that pixel too."""

    def __init__(self, size: int, has_bar: bool, square: bool, bare: bool = False, mark: bool = False) -> None:
        self.size = size
        self.has_bar = has_bar
        self.radius = 0 if square else max(2, round(size * 0.2))
        self.bar: tuple[int, int, int, int] | None
        self.frame_width = max(1, round(size / 16))
        self.mark_diameter = (4 if size < 22 else 5) if size < _ATLAS_FROM else round(size * 0.28)
        self.mark_ring = max(1, round(size / 24))
        shift = 0
        if mark:
            # The content box's corner at least the dot's radius plus its ring from the dot's centre.
            r = self.mark_diameter / 2
            shift = 1 if size < _ATLAS_FROM else max(1, math.ceil(r + (r + self.mark_ring) / math.sqrt(2)))
        margin_x = max(1, round(size * 0.06)) if bare else max(2, round(size * 0.12))
        if has_bar:
            bar_height = max(2, round(size * 0.09))
            bar_bottom = size - max(2, round(size * 0.12)) + (1 if mark and size < _ATLAS_FROM else 0)
            self.bar = (margin_x, bar_bottom - bar_height, size - margin_x, bar_bottom)
            top = max(2, round(size * 0.12))
            self.content = (margin_x, top, size - margin_x, self.bar[1] - max(1, round(size * 0.07)))
        else:
            self.bar = None
            edge = max(1, round(size * 0.08)) if bare else max(3, round(size * 0.18))
            self.content = (margin_x, edge, size - margin_x, size - edge)
        if shift:
            x0, y0, x1, y1 = self.content
            if size < _ATLAS_FROM:
                self.content = (x0 + shift, y0 + shift, x1, y1)
            else:
                self.content = (max(x0, shift), max(y0, shift), x1, y1)


def _finite(value: float | None) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return float(value)


def _percent_text(percent: float | None) -> str | None:
    value = _finite(percent)
    if value is None:
        return None
    if value >= 100:
        return "full"
    # The number every front end shows (fmt.percent_number: rounded down, so 74.6 is 74 like the menu).
    return str(min(99, max(0, percent_number(value))))


# ---------------------------------------------------------------------------------------- masks

def _blank(size: int) -> Image.Image:
    return Image.new("L", (size, size), 0)


def _supersampled(size: int, draw: Callable[[ImageDraw.ImageDraw, float], None]) -> Image.Image:
    """A mask drawn at _SUPERSAMPLE x, box-filtered to `size` (smooth curves, crisp straight edges).

    `draw(d, s)` draws with coordinates in target pixels multiplied by `s`.
    """
    big = Image.new("L", (size * _SUPERSAMPLE, size * _SUPERSAMPLE), 0)
    draw(ImageDraw.Draw(big), _SUPERSAMPLE)
    return big.resize((size, size), Image.Resampling.BOX)


def _box(s: float, x0: float, y0: float, x1: float, y1: float) -> tuple[float, float, float, float]:
    """Target-pixel half-open box [x0, x1) -> ImageDraw's inclusive box on the scaled canvas.

    Never inverted (ImageDraw refuses that), so tiny sizes degrade instead of failing."""
    return (x0 * s, y0 * s, max(x0 * s, x1 * s - 1), max(y0 * s, y1 * s - 1))


def _plate_mask(geometry: _Geometry) -> Image.Image:
    size, radius = geometry.size, geometry.radius

    def draw(d: ImageDraw.ImageDraw, s: float) -> None:
        d.rounded_rectangle(_box(s, 0, 0, size, size), radius=radius * s, fill=255)

    return _supersampled(size, draw)


def _frame_mask(geometry: _Geometry) -> Image.Image:
    size, radius, width = geometry.size, geometry.radius, geometry.frame_width

    def draw(d: ImageDraw.ImageDraw, s: float) -> None:
        d.rounded_rectangle(_box(s, 0, 0, size, size), radius=radius * s, outline=255,
                            width=round(width * s))

    return _supersampled(size, draw)


def _corner_mask(geometry: _Geometry) -> Image.Image:
    """The stale mark: the top-right corner as a square-cornered right triangle (it replaces
    the plate's rounded corner there, so it reads as a folded-down page corner). Its long edge
    runs just outside the content box's corner, so no digit loses a pixel to it; whole pixels,
    so it stays crisp at 16 px."""
    size = geometry.size
    _, y0, x1, _ = geometry.content
    # The hypotenuse x - y = size - leg passes the content box's top-right corner (x1, y0).
    leg = max(4, min(round(size * 0.4), size - (x1 - y0)))
    triangle = _blank(size)
    ImageDraw.Draw(triangle).polygon([(size - leg, 0), (size - 1, 0), (size - 1, leg - 1)], fill=255)
    return triangle


#: The dot below _ATLAS_FROM, pixel for pixel (a supersampled 4-5 px disc smears into its neighbours).
_PIXEL_DOTS = {
    4: (".##.", "####", "####", ".##."),
    5: (".###.", "#####", "#####", "#####", ".###."),
}


def _mark_masks(geometry: _Geometry) -> tuple[Image.Image, Image.Image]:
    """(ring, dot) of the other-login mark: a disc in the top-left corner (4 px across at 16, 13 at
    48) and a ring round it that keeps it apart from whatever it lies on (the plate, a frame)."""
    size, diameter, ring = geometry.size, geometry.mark_diameter, geometry.mark_ring
    if size < _ATLAS_FROM:
        dot = _blank(size)
        pixels = dot.load()
        assert pixels is not None  # an image made in memory is loaded
        for y, line in enumerate(_PIXEL_DOTS[diameter]):
            for x, cell in enumerate(line):
                if cell == "#":
                    pixels[x, y] = 255
        return ImageChops.subtract(dot.filter(ImageFilter.MaxFilter(3)), dot), dot

    def disc(extra: int) -> Callable[[ImageDraw.ImageDraw, float], None]:
        def draw(d: ImageDraw.ImageDraw, s: float) -> None:
            d.ellipse(_box(s, -extra, -extra, diameter + extra, diameter + extra), fill=255)
        return draw

    return _supersampled(size, disc(ring)), _supersampled(size, disc(0))


def _add_mark(image: Image.Image, geometry: _Geometry, template: bool, content: Image.Image) -> Image.Image:
    ring, dot = _mark_masks(geometry)
    # The content box starts clear of the dot; where there is no room (16 px with the weekly bar)
    # they touch, and the digits win: the mark never eats a digit's pixel.
    ring, dot = ImageChops.subtract(ring, content), ImageChops.subtract(dot, content)
    if template:  # alpha only: the ring cut out, the dot solid, on a plate or on nothing
        alpha = ImageChops.subtract(image.getchannel("A"), ring)
        image.putalpha(ImageChops.lighter(alpha, dot))
        return image
    # Near-black: apart from a red (critical) plate (3.2:1) and from a light panel.
    image = _replace(image, ring, _INK_ON_AMBER)
    return _replace(image, dot, _RED)


def _bar_masks(geometry: _Geometry, weekly: float) -> tuple[Image.Image, Image.Image]:
    """(track, fill) of the weekly bar; the fill is whole pixels so 1 % steps stay honest at 16 px."""
    size = geometry.size
    assert geometry.bar is not None
    x0, y0, x1, y1 = geometry.bar
    track = _blank(size)
    ImageDraw.Draw(track).rectangle((x0, y0, x1 - 1, y1 - 1), fill=255)
    fill = _blank(size)
    filled = round((x1 - x0) * min(100.0, max(0.0, weekly)) / 100)
    if filled == 0 and weekly > 0:
        filled = 1  # some use is never drawn as none
    if filled:
        ImageDraw.Draw(fill).rectangle((x0, y0, x0 + filled - 1, y1 - 1), fill=255)
    return track, fill


def _content_mask(state: IconState, text: str | None, geometry: _Geometry) -> Image.Image:
    """The digits or the glyph, as a mask."""
    if state in ("ok", "stale") and text is not None:
        if text == "full":
            return _glyph_mask(_draw_full, geometry)
        return _digits_mask(text, geometry)
    glyph = {
        "loading": _draw_dots,
        "stale": _draw_dots,  # stale without any number: nothing to show but "waiting"
        "ok": _draw_dots,
        "signed_out": _draw_person,
        "no_scope": _draw_padlock,
        "error": _draw_exclamation,
    }[state]
    return _glyph_mask(glyph, geometry)


# ---------------------------------------------------------------------------------------- digits

def _digits_mask(text: str, geometry: _Geometry) -> Image.Image:
    x0, y0, x1, y1 = geometry.content
    if geometry.size < _ATLAS_FROM:
        for glyph_w, glyph_h, glyphs in _PIXEL_FONTS:
            if glyph_h <= y1 - y0 and len(text) * (glyph_w + 1) - 1 <= x1 - x0:
                return _pixel_digits_mask(text, geometry, glyph_w, glyph_h, glyphs)
    return _atlas_digits_mask(text, geometry)


def _pixel_digits_mask(text: str, geometry: _Geometry, glyph_w: int, glyph_h: int,
                       glyphs: dict[str, tuple[str, ...]]) -> Image.Image:
    x0, y0, x1, y1 = geometry.content
    gap = 1
    width = len(text) * glyph_w + (len(text) - 1) * gap
    left = x0 + (x1 - x0 - width) // 2
    top = y0 + (y1 - y0 - glyph_h) // 2
    mask = _blank(geometry.size)
    pixels = mask.load()
    assert pixels is not None  # an image made in memory is loaded
    for index, char in enumerate(text):
        origin = left + index * (glyph_w + gap)
        for row, line in enumerate(glyphs[char]):
            for column, cell in enumerate(line):
                if cell == "#":
                    pixels[origin + column, top + row] = 255
    return mask


def _atlas_digits_mask(text: str, geometry: _Geometry) -> Image.Image:
    """Digits from the pre-rendered atlas, scaled to fill the content box's height (condensed
    further if too wide)."""
    x0, y0, x1, y1 = geometry.content
    box_w, box_h = x1 - x0, y1 - y0
    atlas, cell = _digit_atlas()
    strip = Image.new("L", (cell * len(text), atlas.height), 0)
    for index, char in enumerate(text):
        digit = int(char)
        strip.paste(atlas.crop((digit * cell, 0, (digit + 1) * cell, atlas.height)), (index * cell, 0))
    left, _, right, _ = strip.getbbox() or (0, 0, strip.width, 0)
    ink = strip.crop((left, 0, right, strip.height))
    height = box_h
    width = min(box_w, max(1, round(ink.width * height / ink.height)))
    glyphs = ink.resize((width, height), Image.Resampling.LANCZOS)
    mask = _blank(geometry.size)
    mask.paste(glyphs, (x0 + (box_w - width) // 2, y0))
    return mask


@functools.lru_cache(maxsize=1)
def _digit_atlas() -> tuple[Image.Image, int]:
    """(atlas, cell width), read once from the package."""
    data = (resources.files("tray_monitor") / "assets" / _ATLAS_FILE).read_bytes()
    atlas = _grey_png(data)
    if atlas is None:  # not the 8-bit greyscale PNG icon_tools writes: Pillow's PNG reader
        import io

        from PIL import PngImagePlugin

        atlas = PngImagePlugin.PngImageFile(io.BytesIO(data)).convert("L")
    return atlas, atlas.width // 10


def _grey_png(data: bytes) -> Image.Image | None:
    """An 8-bit greyscale, non-interlaced PNG decoded by Pillow's core "zip" decoder (the one its
    PNG plugin uses), without importing the plugin: PngImagePlugin pulls in fractions and decimal,
    about 0.8 MiB of RSS for the life of the tray. None for any other kind of PNG."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        return None
    position, size, idat = 8, None, []
    while position + 8 <= len(data):
        length = int.from_bytes(data[position:position + 4], "big")
        kind, body = data[position + 4:position + 8], data[position + 8:position + 8 + length]
        position += 12 + length  # length, type, data, CRC
        if kind == b"IHDR":
            width, height = int.from_bytes(body[0:4], "big"), int.from_bytes(body[4:8], "big")
            if body[8:13] != bytes((8, 0, 0, 0, 0)):  # depth 8, greyscale, deflate, filter 0, not interlaced
                return None
            size = (width, height)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
    if size is None or not idat:
        return None
    return Image.frombytes("L", size, b"".join(idat), "zip", "L")


# ---------------------------------------------------------------------------------------- glyphs

Glyph = Callable[[ImageDraw.ImageDraw, float, tuple[float, float, float, float]], None]


def _glyph_mask(glyph: Glyph, geometry: _Geometry) -> Image.Image:
    """Draw `glyph` in a square centred in the content box (the dots take its whole width)."""
    x0, y0, x1, y1 = geometry.content
    side = min(x1 - x0, y1 - y0)
    left = x0 + (x1 - x0 - side) / 2
    top = y0 + (y1 - y0 - side) / 2
    square = (round(left), round(top), round(left) + side, round(top) + side)
    if glyph is _draw_dots:
        square = (x0, square[1], x1, square[3])
    return _supersampled(geometry.size, lambda d, s: glyph(d, s, square))


def _draw_dots(d: ImageDraw.ImageDraw, s: float, square: tuple[float, float, float, float]) -> None:
    x0, y0, x1, y1 = square
    width = x1 - x0
    dot = max(2, round(width * 0.24))
    gap = max(1, round(width * 0.1))
    total = 3 * dot + 2 * gap
    left = x0 + round((width - total) / 2)
    top = y0 + round((y1 - y0 - dot) / 2)
    for index in range(3):
        x = left + index * (dot + gap)
        d.ellipse(_box(s, x, top, x + dot, top + dot), fill=255)


def _draw_exclamation(d: ImageDraw.ImageDraw, s: float,
                      square: tuple[float, float, float, float]) -> None:
    x0, y0, x1, y1 = square
    side = x1 - x0
    stem = max(2, round(side * 0.22))
    left = x0 + round((side - stem) / 2)
    dot_top = y1 - stem
    d.rounded_rectangle(_box(s, left, y0, left + stem, dot_top - max(1, round(side * 0.12))),
                        radius=stem * s * 0.3, fill=255)
    d.rectangle(_box(s, left, dot_top, left + stem, y1), fill=255)


def _draw_person(d: ImageDraw.ImageDraw, s: float, square: tuple[float, float, float, float]) -> None:
    x0, y0, x1, y1 = square
    side = x1 - x0
    head = side * 0.46
    hx = x0 + (side - head) / 2
    d.ellipse(_box(s, hx, y0, hx + head, y0 + head), fill=255)
    # Shoulders: the top half of a wide ellipse, cut flat at the bottom of the square.
    shoulders_top = y0 + head + max(1, side * 0.08)
    d.pieslice(_box(s, x0 + side * 0.06, shoulders_top, x1 - side * 0.06,
                    shoulders_top + 2 * (y1 - shoulders_top)), 180, 360, fill=255)


def _draw_padlock(d: ImageDraw.ImageDraw, s: float,
                  square: tuple[float, float, float, float]) -> None:
    x0, y0, x1, y1 = square
    side = x1 - x0
    stroke = max(1.5, side * 0.16)
    body_top = y0 + side * 0.42
    inset = side * 0.12
    # Shackle: an arch whose legs reach into the body.
    d.rounded_rectangle(_box(s, x0 + side * 0.22, y0, x1 - side * 0.22, body_top + stroke),
                        radius=side * 0.28 * s, outline=255, width=round(stroke * s))
    d.rounded_rectangle(_box(s, x0 + inset, body_top, x1 - inset, y1), radius=side * 0.08 * s,
                        fill=255)
    # Keyhole, cut out.
    hole_w = max(1, side * 0.16)
    cx = x0 + side / 2
    d.rectangle(_box(s, cx - hole_w / 2, body_top + (y1 - body_top) * 0.3, cx + hole_w / 2,
                     body_top + (y1 - body_top) * 0.72), fill=0)


def _draw_full(d: ImageDraw.ImageDraw, s: float, square: tuple[float, float, float, float]) -> None:
    """A no-entry disc: limit reached, work stops until the reset."""
    x0, y0, x1, y1 = square
    side = x1 - x0
    d.ellipse(_box(s, x0, y0, x1, y1), fill=255)
    bar_h = max(2, round(side * 0.24))
    top = y0 + round((side - bar_h) / 2)
    inset = max(2, round(side * 0.2))
    d.rectangle(_box(s, x0 + inset, top, x1 - inset, top + bar_h), fill=0)


# ------------------------------------------------------------------------------------- compose

def _paint(canvas: Image.Image, mask: Image.Image, colour: RGBA) -> Image.Image:
    """`colour` over `canvas` wherever `mask` is set (mask and colour alpha multiply)."""
    layer = Image.new("RGBA", canvas.size, colour)
    alpha = mask if colour[3] == 255 else mask.point(lambda v: v * colour[3] // 255)
    layer.putalpha(alpha)
    return Image.alpha_composite(canvas, layer)


def _replace(canvas: Image.Image, mask: Image.Image, colour: RGBA) -> Image.Image:
    """Set `colour` (alpha included) where `mask` is set, instead of painting over.

    Used for ink on the plate: ink replaces the plate rather than mixing with a see-through plate.
    """
    layer = Image.new("RGBA", canvas.size, colour)
    return Image.composite(layer, canvas, mask)


def _compose_colour(state: IconState, severity: Severity, content: Image.Image, weekly: float | None,
                    geometry: _Geometry, opaque: bool) -> Image.Image:
    look = _LOOKS[(state, severity if state == "ok" else None)]
    size = geometry.size
    canvas = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    canvas = _paint(canvas, _plate_mask(geometry), look.plate)
    if look.frame:
        canvas = _paint(canvas, _frame_mask(geometry), look.frame)
    if weekly is not None:
        track, fill = _bar_masks(geometry, weekly)
        track_colour = _mix(look.plate, look.ink, 0.35)
        canvas = _replace(canvas, track, track_colour)
        canvas = _replace(canvas, fill, look.ink)
    canvas = _replace(canvas, content, look.ink)
    if look.corner:
        canvas = _replace(canvas, _corner_mask(geometry), look.corner)
    if opaque:
        # Flatten onto a solid backdrop: transparent corners must not reach the xorg backend,
        # which would show their missing alpha as black.
        canvas = Image.alpha_composite(Image.new("RGBA", (size, size), _OPAQUE_BACKDROP), canvas)
    return canvas


def _mix(base: RGBA, top: RGBA, amount: float) -> RGBA:
    rgb = tuple(round(b + (t - b) * amount) for b, t in zip(base[:3], top[:3], strict=False))
    return (rgb[0], rgb[1], rgb[2], max(base[3], round(255 * amount)))


def _compose_template(state: IconState, severity: Severity, content: Image.Image, weekly: float | None,
                      geometry: _Geometry) -> Image.Image:
    """Alpha only (RGB stays black). Severity: bare digits < framed < solid plate, digits cut out."""
    size = geometry.size
    alpha = _blank(size)
    solid = state == "ok" and severity == "critical"
    if solid:
        alpha = _plate_mask(geometry)
    elif state == "ok" and severity == "warning":
        alpha = ImageChops.lighter(alpha, _frame_mask(geometry))
    ink = content
    if state == "stale":
        ink = content.point(lambda v: v * 190 // 255)  # muted, yet legible: the last number
    if weekly is not None:
        track, fill = _bar_masks(geometry, weekly)
        if solid:
            # Cut into the plate: the empty part half-cut, the used part fully.
            alpha = ImageChops.subtract(alpha, track.point(lambda v: v * 150 // 255))
            alpha = ImageChops.subtract(alpha, fill)
        else:
            alpha = ImageChops.lighter(alpha, track.point(lambda v: v * 90 // 255))
            alpha = ImageChops.lighter(alpha, fill)
    if solid:
        alpha = ImageChops.subtract(alpha, ink)
    else:
        alpha = ImageChops.lighter(alpha, ink)
    if state == "stale":
        alpha = ImageChops.lighter(alpha, _corner_mask(geometry))
    image = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    image.putalpha(alpha)
    return image


# ------------------------------------------------------------------------------------ app icon

_CLAUDE_ORANGE = (217, 119, 87, 255)


def render_app_icon(size: int) -> Image.Image:
    """The application icon (menus, installers, About): a usage gauge on a dark tile.

    Same design as assets/claude-tray.svg (64-unit grid: gauge centre (32, 35.2), ring radius 20.48
    outer, 7.68 thick, from 135 deg clockwise through 270 deg, filled to 70 %; needle 12.8 long).
    """
    if size < MIN_SIZE:
        raise ValueError(f"icon size {size} is too small; draw at least {MIN_SIZE} px")
    unit = size / 64
    cx, cy = 32 * unit, 35.2 * unit
    outer = 20.48 * unit
    sweep_to = 135 + 270 * 0.7

    def tile(d: ImageDraw.ImageDraw, s: float) -> None:
        d.rounded_rectangle(_box(s, 0, 0, size, size), radius=14.08 * unit * s, fill=255)

    def arc(start: float, end: float) -> Callable[[ImageDraw.ImageDraw, float], None]:
        def draw(d: ImageDraw.ImageDraw, s: float) -> None:
            d.arc(_box(s, cx - outer, cy - outer, cx + outer, cy + outer), start, end, fill=255,
                  width=round(7.68 * unit * s))
        return draw

    def needle(d: ImageDraw.ImageDraw, s: float) -> None:
        r = 5.76 * unit
        d.ellipse(_box(s, cx - r, cy - r, cx + r, cy + r), fill=255)
        angle = math.radians(sweep_to)
        length = 12.8 * unit
        d.line((cx * s, cy * s, (cx + length * math.cos(angle)) * s,
                (cy + length * math.sin(angle)) * s), fill=255, width=round(4.48 * unit * s))

    canvas = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    canvas = _paint(canvas, _supersampled(size, tile), _DARK)
    canvas = _paint(canvas, _supersampled(size, arc(135, 405)), (88, 96, 105, 255))
    canvas = _paint(canvas, _supersampled(size, arc(135, sweep_to)), _CLAUDE_ORANGE)
    canvas = _paint(canvas, _supersampled(size, needle), _WHITE)
    return canvas


if __name__ == "__main__":  # the documented command (README): the tools live in icon_tools
    from tray_monitor.icon_tools import main

    raise SystemExit(main())
