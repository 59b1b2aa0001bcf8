"""The tray image: every state tells itself apart at every size, in colour, template and opaque form."""
from __future__ import annotations

import io
import itertools
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageFont

from tray_monitor import icon
from tray_monitor.icon import ICON_STATES, percent_label, render_icon
from tray_monitor.icon_tools import GALLERY_SIZES
from tray_monitor.model import IconSpec

REPO = Path(__file__).resolve().parent.parent
VARIANTS = {"colour": {}, "template": {"template": True}, "opaque": {"opaque": True}}


def spec_for(state: str, percent: float | None = 42, weekly: float | None = None,
             severity: str = "normal") -> IconSpec:
    if state in ("ok", "stale"):
        return IconSpec(state, percent, weekly, severity)
    return IconSpec(state, None, weekly, severity)


def pixels(image: Image.Image) -> list:
    # Pillow 13 deprecates getdata(); older Pillow (>= 10.1 is allowed) lacks its successor.
    flat = getattr(image, "get_flattened_data", None)
    return list(flat() if flat else image.getdata())


def same(a: Image.Image, b: Image.Image) -> bool:
    return a.tobytes() == b.tobytes()


def greyscale_alpha(image: Image.Image) -> bytes:
    return image.convert("LA").tobytes()


# ------------------------------------------------------------------------------- states apart

@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("size", GALLERY_SIZES)
def test_each_state_differs_from_every_other_state(size, variant):
    images = {state: render_icon(spec_for(state), size, **VARIANTS[variant]) for state in ICON_STATES}
    for a, b in itertools.combinations(ICON_STATES, 2):
        assert not same(images[a], images[b]), f"{a} and {b} look identical at {size} px ({variant})"


@pytest.mark.parametrize("size", GALLERY_SIZES)
def test_each_state_differs_also_in_greyscale(size):
    # Colour-blind users: what separates states must survive losing the hue.
    images = {state: greyscale_alpha(render_icon(spec_for(state), size)) for state in ICON_STATES}
    for a, b in itertools.combinations(ICON_STATES, 2):
        assert images[a] != images[b], f"{a} and {b} differ only in hue at {size} px"


# ------------------------------------------------------------------------------------- digits

@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("size", GALLERY_SIZES)
def test_every_percent_from_0_to_99_draws_a_different_image(size, variant):
    seen: dict[bytes, int] = {}
    for percent in range(100):
        data = render_icon(IconSpec("ok", percent), size, **VARIANTS[variant]).tobytes()
        assert data not in seen, f"{percent}% looks like {seen.get(data)}% at {size} px ({variant})"
        seen[data] = percent


@pytest.mark.parametrize("size", GALLERY_SIZES)
def test_42_and_43_differ(size):
    assert not same(render_icon(IconSpec("ok", 42), size), render_icon(IconSpec("ok", 43), size))


def test_16px_digits_are_exactly_the_pixel_font_in_white():
    image = render_icon(IconSpec("ok", 42, None, "normal"), 16)
    white = sum(1 for pixel in pixels(image) if pixel == (255, 255, 255, 255))
    inked = sum(row.count("#") for char in "42" for row in icon._PIXEL_DIGITS_5X9[char])
    assert white == inked


def test_22px_digits_use_the_larger_pixel_font():
    image = render_icon(IconSpec("ok", 88, None, "normal"), 22)
    white = sum(1 for pixel in pixels(image) if pixel == (255, 255, 255, 255))
    assert white == 2 * sum(row.count("#") for row in icon._PIXEL_DIGITS_7X12["8"])


def test_64px_digits_put_text_coloured_pixels_in_the_middle():
    image = render_icon(IconSpec("ok", 42, None, "normal"), 64)
    middle = image.crop((12, 16, 52, 48))
    bright = sum(1 for r, g, b, a in pixels(middle) if r > 200 and g > 200 and b > 200)
    assert bright > 0.2 * 40 * 32  # digits cover a good part of the middle
    corner_band = image.crop((0, 0, 64, 6))
    assert not any(r > 200 and g > 200 and b > 200 and a > 0 for r, g, b, a in pixels(corner_band))


def test_single_digit_is_centred():
    image = render_icon(IconSpec("ok", 0, None, "normal"), 64)
    white = image.point(lambda v: 255 if v > 200 else 0).convert("L")
    left, _, right, _ = white.crop((4, 4, 60, 60)).getbbox()
    assert abs((4 + left) - (64 - (4 + right))) <= 2


@pytest.mark.parametrize(("percent", "label"), [
    (0, "0"), (7.4, "7"), (41.5, "41"), (74.6, "74"), (99.4, "99"), (99.6, "99"), (100, "full"), (104.2, "full"),
    (-3, "0"), (None, None), (float("nan"), None), (float("inf"), None),
])
def test_percent_label(percent, label):
    assert percent_label(percent) == label


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("size", GALLERY_SIZES)
def test_100_and_104_render_the_same_full_look_unlike_99(size, variant):
    kwargs = VARIANTS[variant]
    full = render_icon(IconSpec("ok", 100, None, "critical"), size, **kwargs)
    over = render_icon(IconSpec("ok", 104, None, "critical"), size, **kwargs)
    ninety_nine = render_icon(IconSpec("ok", 99.6, None, "critical"), size, **kwargs)
    assert same(full, over)
    assert not same(full, ninety_nine)


def test_full_look_draws_a_no_entry_bar_across_the_middle():
    image = render_icon(IconSpec("ok", 100, None, "critical"), 64)
    # The bar is plate-red through the white disc, left of centre to right of centre.
    row = [image.getpixel((x, 32)) for x in range(20, 44)]
    assert all(pixel[:3] == icon._RED[:3] for pixel in row)
    assert image.getpixel((32, 20))[:3] == (255, 255, 255)


def test_nan_percent_draws_like_no_percent():
    assert same(render_icon(IconSpec("ok", float("nan")), 24), render_icon(IconSpec("ok", None), 24))


# ----------------------------------------------------------------------------------- severity

@pytest.mark.parametrize("size", GALLERY_SIZES)
def test_severities_differ_in_greyscale_and_alpha(size):
    specs = {sev: IconSpec("ok", 42, None, sev) for sev in ("normal", "warning", "critical")}
    grey = {sev: greyscale_alpha(render_icon(s, size)) for sev, s in specs.items()}
    template = {sev: render_icon(s, size, template=True).getchannel("A").tobytes()
                for sev, s in specs.items()}
    for a, b in itertools.combinations(specs, 2):
        assert grey[a] != grey[b], f"{a} vs {b} at {size} px differ only in hue"
        assert template[a] != template[b], f"{a} vs {b} at {size} px differ only in colour"


def test_critical_has_a_light_frame_that_normal_lacks():
    # Shape cue for red/green colour blindness: the red plate is hard to tell from the dark one.
    critical = render_icon(IconSpec("ok", 42, None, "critical"), 32).convert("L")
    normal = render_icon(IconSpec("ok", 42, None, "normal"), 32).convert("L")
    assert critical.getpixel((16, 0)) > 200 and critical.getpixel((0, 16)) > 200
    assert normal.getpixel((16, 0)) < 80


def test_warning_is_a_light_plate_with_dark_digits():
    warning = render_icon(IconSpec("ok", 42, None, "warning"), 32).convert("L")
    normal = render_icon(IconSpec("ok", 42, None, "normal"), 32).convert("L")
    assert warning.getpixel((16, 2)) > 120 > normal.getpixel((16, 2))


def test_template_severity_steps_from_bare_to_framed_to_solid():
    def alpha_at_edge(severity: str) -> int:
        return render_icon(IconSpec("ok", 42, None, severity), 32, template=True).getpixel((16, 0))[3]

    def alpha_in_plate(severity: str) -> int:  # inside the frame, beside the digits
        return render_icon(IconSpec("ok", 42, None, severity), 32, template=True).getpixel((16, 3))[3]

    assert alpha_at_edge("normal") == 0
    assert alpha_at_edge("warning") == 255 and alpha_in_plate("warning") == 0
    assert alpha_at_edge("critical") == 255 and alpha_in_plate("critical") == 255


def test_unknown_severity_draws_as_normal():
    assert same(render_icon(IconSpec("ok", 42, None, "purple"), 22),
                render_icon(IconSpec("ok", 42, None, "normal"), 22))


# -------------------------------------------------------------------------------------- stale

@pytest.mark.parametrize("size", GALLERY_SIZES)
def test_stale_keeps_the_number_but_muted_and_marked(size):
    stale = render_icon(IconSpec("stale", 42), size)
    stale_43 = render_icon(IconSpec("stale", 43), size)
    fresh = render_icon(IconSpec("ok", 42), size)
    assert not same(stale, stale_43)  # the last number is still shown
    brightest = max(sum(p[:3]) for p in pixels(stale))
    assert brightest < max(sum(p[:3]) for p in pixels(fresh))  # nothing as bright as fresh digits
    # The corner mark: amber in the top-right corner, never in a fresh icon.
    r, g, b, a = stale.getpixel((size - 2, 1))
    assert (r, g, b, a) == icon._AMBER
    assert icon._AMBER not in pixels(fresh)


PANELS = {"dark panel": (32, 32, 32), "light panel": (235, 235, 235)}


def on_panel(image: Image.Image, panel: tuple) -> Image.Image:
    backdrop = Image.new("RGBA", image.size, panel + (255,))
    backdrop.alpha_composite(image)
    return backdrop


def luminance(rgb) -> float:
    def channel(c):
        c /= 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b = (channel(c) for c in rgb[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a, b) -> float:
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def digit_pixels(size: int, percent: int) -> list[tuple[int, int]]:
    """Where the fresh icon draws its digits (pure white ink on the dark plate)."""
    fresh = render_icon(IconSpec("ok", percent), size)
    return [(x, y) for y in range(size) for x in range(size) if fresh.getpixel((x, y)) == icon._WHITE]


@pytest.mark.parametrize("panel", PANELS)
@pytest.mark.parametrize("size", (16, 22, 24))
def test_a_stale_number_is_legible_at_panel_sizes_on_dark_and_light_panels(size, panel):
    """Issue 16: grey digits on a see-through plate were faint on light panels (contrast ~1.5:1).
    Digits against their plate, as the panel shows them: at least 4.5:1 (WCAG AA for text)."""
    shown = on_panel(render_icon(IconSpec("stale", 42), size), PANELS[panel])
    ink = shown.getpixel(digit_pixels(size, 42)[0])
    plate = shown.getpixel((1, size // 2))  # left edge, beside the digits
    assert contrast(ink, plate) >= 4.5, (ink, plate)
    assert all(shown.getpixel(xy) == ink for xy in digit_pixels(size, 42))


@pytest.mark.parametrize("variant", ["colour", "opaque"])
@pytest.mark.parametrize("size", (16, 22, 24))
def test_the_stale_mark_never_hides_a_digit_pixel(size, variant):
    """Every pixel of every number from 0 to 99 that a fresh icon draws is drawn, in the stale
    ink, by the stale one too: the corner mark sits beside the digits, not on them."""
    ink = icon._LOOKS[("stale", None)].ink
    for percent in range(100):
        stale = render_icon(IconSpec("stale", percent), size, **VARIANTS[variant])
        assert all(stale.getpixel(xy) == ink for xy in digit_pixels(size, percent)), percent


@pytest.mark.parametrize("size", (16, 22, 24))
def test_the_stale_mark_is_a_solid_corner_not_a_dashed_cog_edge(size):
    """The dashed edge read as a cog at 22-24 px: the plate's edges are now unbroken and the mark
    is one amber triangle of a few pixels' legs in the top-right corner."""
    stale = render_icon(IconSpec("stale", 42), size)
    radius = max(2, round(size * 0.2))
    amber = [(x, y) for y in range(size) for x in range(size) if stale.getpixel((x, y)) == icon._AMBER]
    assert len(amber) >= 10 and all(x >= size // 2 and y < size // 2 for x, y in amber)
    leg = max(x for x, _ in amber) - min(x for x, _ in amber) + 1
    assert leg >= 4
    for x in range(radius, size - leg):  # top edge up to the corner, and every other edge
        assert stale.getpixel((x, 0))[3] == 255 and stale.getpixel((x, size - 1))[3] == 255
    for y in range(radius + leg, size - radius):
        assert stale.getpixel((0, y))[3] == 255 and stale.getpixel((size - 1, y))[3] == 255


def test_template_stale_digits_are_muted_but_legible_with_the_corner_mark():
    image = render_icon(IconSpec("stale", 88), 64, template=True)
    middle = image.crop((20, 20, 44, 44)).getchannel("A")
    assert 160 < max(pixels(middle)) < 255
    assert image.getpixel((62, 1))[3] == 255  # the corner mark, full strength
    assert render_icon(IconSpec("ok", 88), 64, template=True).getpixel((62, 1))[3] == 0


# ---------------------------------------------------------------------------------- weekly bar

@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("size", GALLERY_SIZES)
def test_weekly_bar_shows_and_grows(size, variant):
    kwargs = VARIANTS[variant]
    images = [render_icon(IconSpec("ok", 42, weekly), size, **kwargs) for weekly in (None, 0, 50, 100)]
    for a, b in itertools.combinations(images, 2):
        assert not same(a, b)


def test_weekly_bar_fill_length_follows_the_percent():
    def filled(weekly: float) -> int:
        image = render_icon(IconSpec("ok", 42, weekly), 64)
        assert icon._Geometry(64, True, False).bar is not None
        x0, y0, x1, _ = icon._Geometry(64, True, False).bar
        return sum(1 for x in range(x0, x1) if image.getpixel((x, y0)) == (255, 255, 255, 255))

    width = icon._Geometry(64, True, False).bar[2] - icon._Geometry(64, True, False).bar[0]
    assert filled(0) == 0
    assert filled(0.4) == 1  # a little use is never drawn as none
    assert filled(50) == round(width / 2)
    assert filled(100) == filled(250) == width


# ------------------------------------------------------------------------- template and opaque

@pytest.mark.parametrize("size", GALLERY_SIZES)
def test_template_images_are_black_with_alpha_only(size):
    for state in ICON_STATES:
        for severity in ("normal", "warning", "critical"):
            for weekly in (None, 60):
                image = render_icon(spec_for(state, 42, weekly, severity), size, template=True)
                assert image.mode == "RGBA"
                assert image.convert("RGB").getextrema() == ((0, 0), (0, 0), (0, 0))
                assert image.getchannel("A").getextrema()[1] == 255  # something is drawn


@pytest.mark.parametrize("size", GALLERY_SIZES + (48, 128))
def test_opaque_images_have_no_transparent_pixel(size):
    for state in ICON_STATES:
        for severity in ("normal", "warning", "critical"):
            image = render_icon(spec_for(state, 42, 60, severity), size, opaque=True)
            assert image.getchannel("A").getextrema() == (255, 255)


def test_opaque_corners_are_the_plate_not_black():
    # The xorg backend drops alpha: transparent corners would turn black.
    image = render_icon(IconSpec("ok", 42, None, "warning"), 24, opaque=True)
    for corner in ((0, 0), (23, 0), (0, 23), (23, 23)):
        assert image.getpixel(corner)[:3] == icon._AMBER[:3]


def test_colour_icons_have_transparent_rounded_corners():
    image = render_icon(IconSpec("ok", 42), 32)
    assert image.getpixel((0, 0))[3] == 0 and image.getpixel((16, 16))[3] == 255


# ------------------------------------------------------------------------------- sizes, errors

@pytest.mark.parametrize("size", [8, 12, 16, 20, 22, 24, 28, 32, 44, 64, 128, 256])
def test_size_is_exact_for_every_state_and_variant(size):
    for state in ICON_STATES:
        for kwargs in VARIANTS.values():
            image = render_icon(spec_for(state, 42, 30), size, **kwargs)
            assert image.size == (size, size) and image.mode == "RGBA"


def test_unknown_state_is_refused():
    with pytest.raises(ValueError, match="unknown icon state"):
        render_icon(IconSpec("sleepy"), 16)


def test_too_small_size_is_refused():
    with pytest.raises(ValueError, match="too small"):
        render_icon(IconSpec("ok", 42), 4)
    with pytest.raises(ValueError, match="too small"):
        icon.render_app_icon(4)


def test_template_and_opaque_together_are_refused():
    with pytest.raises(ValueError, match="exclude each other"):
        render_icon(IconSpec("ok", 42), 16, template=True, opaque=True)


def test_rendering_is_deterministic():
    spec = IconSpec("stale", 93, 50, "critical")
    assert same(render_icon(spec, 22), render_icon(spec, 22))


# ---------------------------------------------------------------------------- fonts and import

def test_importing_icon_binds_pil_imagefont_and_nothing_of_the_shell():
    # Gtk imported before PIL.ImageFont makes ImageDraw.text() draw nothing (gtk/appindicator
    # backends); the tray imports icon first, so icon must bring ImageFont in at import time.
    code = ("import sys, tray_monitor.icon; "
            "print(' '.join(m for m in ('PIL.ImageFont', 'pystray', 'http.client', 'gi') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                         check=True, timeout=60).stdout.split()
    assert out == ["PIL.ImageFont"]


def test_drawing_a_percent_loads_no_image_format_plugin():
    # Image.open of the digit atlas imported BMP, GIF, JPEG and PPM support too (+0.9 MiB RSS), and
    # the PNG plugin alone fractions and decimal (+0.8 MiB): the atlas is decoded by Pillow's core.
    code = ("import sys; from tray_monitor.icon import render_icon; from tray_monitor.model import IconSpec; "
            "render_icon(IconSpec(state='ok', percent=78, weekly_percent=40, severity='warning'), size=48); "
            "print(' '.join(sorted(m for m in sys.modules if m.endswith('ImagePlugin') or m in ('fractions', 'decimal'))))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                         check=True, timeout=60).stdout.split()
    assert out == []


def test_the_digit_atlas_reads_as_pillows_png_reader_reads_it():
    from PIL import PngImagePlugin

    atlas, cell = icon._digit_atlas()
    data = (REPO / "tray_monitor" / "assets" / "digits.png").read_bytes()
    expected = PngImagePlugin.PngImageFile(io.BytesIO(data)).convert("L")
    assert (atlas.mode, atlas.size, cell) == ("L", expected.size, expected.width // 10)
    assert atlas.tobytes() == expected.tobytes()


@pytest.mark.parametrize("mode", ["RGBA", "RGB", "LA", "1", "P"])
def test_a_png_other_than_8_bit_greyscale_is_left_to_pillow(mode):
    buffer = io.BytesIO()
    Image.new(mode, (20, 10)).save(buffer, format="PNG")
    assert icon._grey_png(buffer.getvalue()) is None
    assert icon._grey_png(b"not a png") is None


@pytest.mark.parametrize("size", [(1, 1), (37, 5), (300, 40)])
def test_an_8_bit_greyscale_png_decodes_exactly(size):
    import random

    rng = random.Random(size[0])
    image = Image.frombytes("L", size, bytes(rng.randrange(256) for _ in range(size[0] * size[1])))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    assert icon._grey_png(buffer.getvalue()).tobytes() == image.tobytes()


def test_drawing_an_icon_never_needs_freetype(monkeypatch):
    def no_freetype(*args, **kwargs):
        raise AssertionError("render_icon asked FreeType for a font")

    monkeypatch.setattr(ImageFont, "truetype", no_freetype)
    for size in (16, 24, 32, 64, 256):
        image = render_icon(IconSpec("ok", 42), size)
        assert not same(image, render_icon(IconSpec("ok", 43), size))


def test_icon_draws_digits_even_when_gtk_was_imported_first():
    """Story: with the appindicator backend, `import pystray` loads Gtk; Gtk loaded before
    PIL.ImageFont makes FreeType measure a 187-megapixel text box, and rendering the 64 px icon
    crashed with DecompressionBombError. The digits now come from a PNG atlas, not FreeType."""
    pytest.importorskip("gi")
    code = (
        "import gi\n"
        "gi.require_version('Gtk', '3.0')\n"
        "from gi.repository import Gtk\n"
        "from tray_monitor.icon import render_icon\n"
        "from tray_monitor.model import IconSpec\n"
        "a = render_icon(IconSpec('ok', 42), 64).tobytes()\n"
        "b = render_icon(IconSpec('ok', 43), 64).tobytes()\n"
        "print('differ' if a != b else 'same')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "differ"


# ----------------------------------------------------------------------------------- any input

@settings(max_examples=150, deadline=None)
@given(
    state=st.sampled_from(ICON_STATES),
    percent=st.none() | st.floats(allow_nan=True, allow_infinity=True, width=32),
    weekly=st.none() | st.floats(allow_nan=True, allow_infinity=True, width=32),
    severity=st.sampled_from(("normal", "warning", "critical", "", "unknown")),
    size=st.integers(min_value=8, max_value=96),
    variant=st.sampled_from(sorted(VARIANTS)),
)
def test_any_spec_renders_at_its_size_without_error(state, percent, weekly, severity, size, variant):
    image = render_icon(IconSpec(state, percent, weekly, severity), size, **VARIANTS[variant])
    assert image.size == (size, size) and image.mode == "RGBA"
    assert image.getchannel("A").getextrema()[1] > 0  # never an empty image


# ------------------------------------------------------------------ another login critical (issue 15)

def marked(spec: IconSpec) -> IconSpec:
    from dataclasses import replace

    return replace(spec, other_critical=True)


MARK_SIZES = (16, 22, 24, 32, 48, 64)


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("size", MARK_SIZES)
def test_another_critical_login_marks_every_state_in_the_top_left_corner(size, variant):
    """The mark is a dot in the top-left corner: red in colour (full alpha in the template), in
    every state, and the greyscale image differs too (never colour alone)."""
    kwargs = VARIANTS[variant]
    for spec in (spec_for("ok", 42), spec_for("ok", 78, severity="warning"), spec_for("ok", 93, 50, "critical"),
                 spec_for("stale", 42), spec_for("ok", 104, severity="critical"), spec_for("signed_out")):
        plain, with_mark = render_icon(spec, size, **kwargs), render_icon(marked(spec), size, **kwargs)
        assert greyscale_alpha(plain) != greyscale_alpha(with_mark), spec
        centre = icon._Geometry(size, False, False, mark=True).mark_diameter // 2
        pixel = with_mark.getpixel((centre, centre))
        if variant == "template":
            assert pixel[3] == 255 and pixel[:3] == (0, 0, 0)
        else:
            assert pixel == icon._RED, (spec, pixel)
        # Nothing of the mark outside the top-left third.
        changed = [(x, y) for y in range(size) for x in range(size)
                   if plain.getpixel((x, y)) != with_mark.getpixel((x, y))]
        corner = [(x, y) for x, y in changed if x < size * 0.4 and y < size * 0.4]
        assert len(corner) >= 9


@pytest.mark.parametrize("weekly", [None, 0])  # 0: the bar's track only, no white fill to mix in
@pytest.mark.parametrize("size", (16, 22, 24))
def test_at_pixel_font_sizes_the_mark_moves_the_digits_at_most_a_pixel_whole_and_never_covers_one(size, weekly):
    """Below the atlas sizes every pixel of every number 0-99 is drawn, in the same pixel font,
    at most one pixel right and down: the dot sits beside the digits, not on them."""
    for percent in range(100):
        plain = render_icon(IconSpec("ok", percent, weekly), size)
        with_mark = render_icon(IconSpec("ok", percent, weekly, "normal", True), size)
        ink = {(x, y) for y in range(size) for x in range(size) if plain.getpixel((x, y)) == icon._WHITE}
        moved = {(x, y) for y in range(size) for x in range(size) if with_mark.getpixel((x, y)) == icon._WHITE}
        assert ink and any(moved == {(x + dx, y + dy) for x, y in ink} for dx in (0, 1) for dy in (0, 1)), percent


@pytest.mark.parametrize("weekly", [None, 63])
@pytest.mark.parametrize("size", (28, 32, 48, 64))
def test_at_atlas_sizes_the_dot_and_its_ring_stay_off_the_digits(size, weekly):
    for percent in (0, 7, 11, 42, 57, 77, 88, 99):
        geometry = icon._Geometry(size, weekly is not None, False, mark=True)
        digits = icon._content_mask("ok", percent_label(percent), geometry)
        ring, _dot = icon._mark_masks(geometry)
        both = [(x, y) for y in range(size) for x in range(size)
                if digits.getpixel((x, y)) > 0 and ring.getpixel((x, y)) > 0]
        assert both == [], (percent, both)


@pytest.mark.parametrize("size", (16, 22, 24))
def test_the_mark_stands_apart_from_a_red_critical_plate(size):
    """A red dot on the red plate would vanish: a dark ring keeps it apart (contrast >= 3:1 with
    the plate, WCAG's figure for graphics), and the dot itself is the critical red."""
    image = render_icon(IconSpec("ok", 93, None, "critical", True), size)
    diameter = icon._Geometry(size, False, False, mark=True).mark_diameter
    ring_pixel = image.getpixel((diameter, diameter // 2))  # just right of the dot
    assert contrast(ring_pixel, icon._RED) >= 3, ring_pixel
    assert image.getpixel((diameter // 2, diameter // 2)) == icon._RED


def test_the_template_mark_on_a_solid_plate_is_cut_apart_by_a_transparent_ring():
    image = render_icon(IconSpec("ok", 93, None, "critical", True), 48, template=True)
    diameter = icon._Geometry(48, False, False, mark=True).mark_diameter
    assert image.getpixel((diameter // 2, diameter // 2))[3] == 255  # the dot
    assert image.getpixel((diameter + 1, diameter // 2))[3] == 0  # the ring, cut out of the plate


@pytest.mark.parametrize("size", MARK_SIZES)
def test_opaque_marked_images_have_no_transparent_pixel(size):
    image = render_icon(IconSpec("ok", 42, 30, "normal", True), size, opaque=True)
    assert min(p[3] for p in pixels(image)) == 255
