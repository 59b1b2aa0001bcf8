"""The icon tools: the gallery, the app icons and the digit atlas they write, and their command line."""
from __future__ import annotations

import subprocess
import sys

import pytest
from PIL import Image, ImageChops

from tests.test_icon import REPO, pixels, same
from tray_monitor import icon_tools
from tray_monitor.icon import render_app_icon, render_icon
from tray_monitor.icon_tools import APP_ICON_SIZES, GALLERY_SIZES, gallery_size, render_gallery


def test_the_font_is_bundled_with_its_licence():
    assets = REPO / "tray_monitor" / "assets"
    assert (assets / "DejaVuSansCondensed-Bold.ttf").stat().st_size > 100_000
    assert "Bitstream" in (assets / "DejaVu-LICENSE.txt").read_text()
    assert icon_tools._font(20).getname() == ("DejaVu Sans", "Condensed Bold")


def test_committed_digit_atlas_matches_the_bundled_font():
    with Image.open(REPO / "tray_monitor" / "assets" / "digits.png") as committed:
        fresh = icon_tools.render_digit_atlas()
        assert committed.size == fresh.size and committed.mode == "L"
        diff = ImageChops.difference(committed, fresh)
        assert max(pixels(diff)) <= 16, \
            "run: python -m tray_monitor.icon digit-atlas tray_monitor/assets/digits.png"


# ------------------------------------------------------------------------------- command line

def test_gallery_command_writes_a_png_of_the_expected_size(tmp_path, capsys):
    out = tmp_path / "gallery.png"
    assert icon_tools.main(["gallery", str(out)]) == 0
    with Image.open(out) as written:
        assert written.format == "PNG"
        assert written.size == gallery_size()
    cases = icon_tools.gallery_cases()
    width, height = gallery_size()
    assert width > 4 * sum(GALLERY_SIZES)  # four variants side by side
    assert height > len(cases) * max(GALLERY_SIZES)  # one row per case
    # One case fewer: exactly one row (the largest icon plus padding) shorter.
    assert gallery_size(cases[:-1])[1] == height - (max(GALLERY_SIZES) + icon_tools._CELL_PAD)
    assert "wrote" in capsys.readouterr().out


def test_gallery_contains_each_icon_where_its_row_and_column_say():
    sheet = render_gallery()
    first = icon_tools.gallery_cases()[0]
    # Template column group (the third), 64 px icon of the first row, on its light backdrop.
    group_width = sum(GALLERY_SIZES) + icon_tools._CELL_PAD * (len(GALLERY_SIZES) + 1)
    x = icon_tools._LABEL_WIDTH + 2 * group_width + icon_tools._CELL_PAD + sum(GALLERY_SIZES[:-1]) \
        + icon_tools._CELL_PAD * (len(GALLERY_SIZES) - 1)
    y = icon_tools._HEADER_HEIGHT
    expected = Image.new("RGBA", (64, 64), (235, 235, 235, 255))
    expected.alpha_composite(render_icon(first.spec, 64, template=True))
    assert same(sheet.crop((x, y, x + 64, y + 64)), expected)


def test_committed_gallery_is_current():
    committed = REPO / "assets" / "icon-gallery.png"
    with Image.open(committed) as image:
        current = render_gallery()
        assert image.size == current.size, "run: python -m tray_monitor.icon gallery assets/icon-gallery.png"
        diff = ImageChops.difference(image.convert("RGB"), current.convert("RGB")).convert("L")
        changed = sum(1 for v in pixels(diff) if v > 16)
    # Strict on purpose: one changed pixel of a 16 px digit must show. Another Pillow's FreeType may
    # anti-alias the labels differently; then regenerating the gallery is the fix, too.
    assert changed == 0, \
        "assets/icon-gallery.png is out of date: python -m tray_monitor.icon gallery assets/icon-gallery.png"


def test_app_icons_command_writes_every_size(tmp_path):
    assert icon_tools.main(["app-icons", str(tmp_path / "icons")]) == 0
    for size in APP_ICON_SIZES:
        with Image.open(tmp_path / "icons" / f"claude-tray-{size}.png") as image:
            assert image.size == (size, size) and image.mode == "RGBA"
            assert image.getpixel((0, 0))[3] == 0  # rounded tile
            assert image.getpixel((size // 2, size // 2))[3] == 255


def test_app_icons_command_writes_an_ico_with_every_size_drawn_at_that_size(tmp_path):
    assert icon_tools.main(["app-icons", str(tmp_path)]) == 0
    with Image.open(tmp_path / "claude-tray.ico") as ico:
        assert ico.info["sizes"] == {(s, s) for s in APP_ICON_SIZES}
        ico.size = (16, 16)
        ico.load()
        assert same(ico.convert("RGBA"), render_app_icon(16))


@pytest.mark.parametrize("folder", ["assets", "tray_monitor/assets"])
def test_committed_app_icons_are_current_for_every_size(folder):
    for size in APP_ICON_SIZES:
        with Image.open(REPO / folder / f"claude-tray-{size}.png") as image:
            assert same(image.convert("RGBA"), render_app_icon(size)), \
                f"run: python -m tray_monitor.icon app-icons {folder}"
    assert (REPO / folder / "claude-tray.ico").is_file()
    svg = (REPO / "assets" / "claude-tray.svg").read_text()
    assert svg.lstrip().startswith("<svg") and 'viewBox="0 0 64 64"' in svg


def test_digit_atlas_command_writes_ten_equal_cells(tmp_path):
    out = tmp_path / "digits.png"
    assert icon_tools.main(["digit-atlas", str(out)]) == 0
    with Image.open(out) as atlas:
        assert atlas.width % 10 == 0 and atlas.mode == "L"
        cell = atlas.width // 10
        cells = [atlas.crop((d * cell, 0, (d + 1) * cell, atlas.height)).tobytes() for d in range(10)]
    assert len(set(cells)) == 10


@pytest.mark.parametrize("argv", [[], ["gallery"], ["paint", "x.png"], ["gallery", "a", "b"]])
def test_command_line_misuse_prints_usage(argv, capsys):
    assert icon_tools.main(argv) == 2
    assert "usage: python -m tray_monitor.icon gallery OUT.png" in capsys.readouterr().err


def test_unwritable_target_is_one_clear_sentence(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert icon_tools.main(["gallery", str(blocker / "gallery.png")]) == 1
    assert icon_tools.main(["app-icons", str(blocker / "icons")]) == 1
    err = capsys.readouterr().err
    assert err.count("Could not write") == 2 and "Traceback" not in err


def test_module_runs_as_a_command(tmp_path):
    out = tmp_path / "g.png"
    result = subprocess.run([sys.executable, "-m", "tray_monitor.icon", "gallery", str(out)],
                            cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert out.stat().st_size > 10_000
