"""The system Chromium (Debian's ``chromium``) as Playwright drives it here: its path and the
flags that let it run headless on a server with no display, sandbox or network chatter."""

from __future__ import annotations

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
