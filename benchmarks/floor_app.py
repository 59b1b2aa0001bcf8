"""The floor: the smallest pystray + Pillow + requests app that polls the usage endpoint and shows
the session percent as a number in the tray. It is what claude-tray is measured against
(benchmarks/bench.py): the physical floor for this stack, with none of claude-tray's features.

usage: python floor_app.py URL INTERVAL STATS_FILE
Every poll and every redraw rewrites STATS_FILE with one JSON line (requests, redraws), so the
benchmark reads the counts without asking the process anything. SIGTERM ends it.
"""
import json
import os
import signal
import sys
import threading

import pystray
import requests
from PIL import Image, ImageDraw, ImageFont

url, interval, stats_path = sys.argv[1] + "/api/oauth/usage", float(sys.argv[2]), sys.argv[3]
font = ImageFont.load_default(size=30)
counts = {"requests": 0, "redraws": 0}
shown = {"text": None}
stop = threading.Event()


def draw(text):
    # Opaque, like claude-tray on xorg: pystray's xorg backend drops alpha.
    image = Image.new("RGB", (64, 64), (40, 40, 40))
    ImageDraw.Draw(image).text((32, 32), text, font=font, fill=(255, 255, 255), anchor="mm")
    return image


def save_stats():
    with open(stats_path + ".tmp", "w") as f:
        json.dump(counts, f)
    os.replace(stats_path + ".tmp", stats_path)


def poll_forever(icon):
    icon.visible = True
    session = requests.Session()
    while not stop.is_set():
        try:
            body = session.get(url, headers={"Authorization": "Bearer floor", "User-Agent": "floor-app/1",
                                             "anthropic-beta": "oauth-2025-04-20"}, timeout=(5, 20)).json()
            text = str(round(body["five_hour"]["utilization"]))
        except Exception:
            text = "?"
        counts["requests"] += 1
        if text != shown["text"]:  # no redraw when nothing visible changed
            shown["text"] = text
            icon.icon = draw(text)
            counts["redraws"] += 1
        save_stats()
        stop.wait(interval)


icon = pystray.Icon("floor", draw("…"), "floor")
signal.signal(signal.SIGTERM, lambda *_: (stop.set(), icon.stop()))
icon.run(setup=lambda icon: threading.Thread(target=poll_forever, args=(icon,), daemon=True).start())
