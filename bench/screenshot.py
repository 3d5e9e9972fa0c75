"""Screenshot of the asset list page for the README (docs/screenshot.png).

Uses the benchmark's database, so run ``python -m bench.assets_list`` (or a small run of it)
first. The server runs as in the benchmark; the browser signs in through the login page.

    python -m bench.screenshot [--database-url URL] [--output docs/screenshot.png]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bench import server as web
from bench.assets_list import (
    DEFAULT_DATABASE_URL,
    ROOT,
    UI_LIST_FALLBACK,
    configure_environment,
    prepare_agent,
    url_of,
)

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.screenshot", description=__doc__)
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "screenshot.png")
    parser.add_argument("--organization", default="Bench Customer 001")
    args = parser.parse_args(argv)
    env = configure_environment(args.database_url)

    import django

    django.setup()
    from django.db import connections
    from playwright.sync_api import expect, sync_playwright

    from buttress.tenancy.models import Organization

    agent, _, password = prepare_agent()
    org = Organization.objects.filter(name=args.organization).first()
    ui_list = url_of("assets:list", UI_LIST_FALLBACK)
    login_path = url_of("accounts:login", "/accounts/login/")
    connections.close_all()

    server = web.start(env=env, workers=1, log_dir=ROOT / "var" / "bench", ready_path=login_path)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1360, "height": 860})
            page.goto(server.base_url + login_path)
            page.get_by_label("Email").fill(agent.email)
            page.get_by_label("Password").fill(password)
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_load_state("networkidle")
            query = f"?organization={org.pk}" if org is not None else ""
            page.goto(server.base_url + ui_list + query)
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
