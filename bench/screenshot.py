"""Screenshot of the asset list page for the README (docs/screenshot.png).

Builds a throwaway SQLite installation with the demo data under var/screenshot/, serves it with
``buttress web`` on a free loopback port, signs in through the login page as the demo agent
and photographs the asset list.

    python -m bench.screenshot [--output docs/screenshot.png]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

from bench import server as web
from buttress.lib.chromium import CHROMIUM, CHROMIUM_ARGS

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.screenshot", description=__doc__)
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "screenshot.png")
    args = parser.parse_args(argv)

    data_dir = ROOT / "var" / "screenshot"
    shutil.rmtree(data_dir, ignore_errors=True)
    (data_dir / "static").mkdir(parents=True)
    os.environ.pop("DATABASE_URL", None)
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "buttress.settings",
            "BUTTRESS_DATA_DIR": str(data_dir),
            "BUTTRESS_DEBUG": "0",
            "BUTTRESS_LOG_LEVEL": "WARNING",
        }
    )

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connections
    from django.urls import reverse
    from playwright.sync_api import expect, sync_playwright

    from buttress.demo.catalogue import DEMO_PASSWORD, LOGINS
    from buttress.demo.loader import load_demo

    call_command("migrate", interactive=False, verbosity=0)
    load_demo()
    agent = next(login for login in LOGINS if login.role == "agent")
    login_path = reverse("accounts:login")
    list_path = reverse("assets:list")
    connections.close_all()

    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(data_dir / "prometheus")}
    server = web.start(env=env, workers=1, log_dir=data_dir, ready_path=login_path)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1360, "height": 860})
            page.goto(server.base_url + login_path)
            page.get_by_label("Email").fill(agent.email)
            page.get_by_label("Password").fill(DEMO_PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            expect(page).not_to_have_url(server.base_url + login_path)
            page.goto(server.base_url + list_path)
            expect(page.get_by_role("table")).to_be_visible()
            args.output.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(args.output))
            browser.close()
    finally:
        server.stop()
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
