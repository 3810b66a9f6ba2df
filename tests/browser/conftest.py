"""Headless Chromium driven by Playwright: Debian's /usr/bin/chromium, a fresh profile,
the network-quiet flags this machine needs (never `playwright install`)."""

import os
import shutil
import tempfile

import pytest

# Playwright's sync API runs an event loop in the test thread; the ORM calls made by the
# test itself (fixtures, assertions) are still synchronous and safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("QUNLI_CHROMIUM", "/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/browser" in str(item.fspath):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def browser_context_factory(live_server):
    """Asks for the live server so that it is torn down after the browser: Chromium's open
    keep-alive connections end first, and no request thread closes a database connection the
    stopped server no longer shares (pytest's unhandled-thread-exception warnings)."""
    from playwright.sync_api import sync_playwright

    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium package")
    profile = tempfile.mkdtemp(prefix="qunli-chromium-")
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, headless=True, args=FLAGS, locale="zh-CN",
            viewport={"width": 1366, "height": 900}, accept_downloads=True)
        yield context
        context.close()
    shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def page(browser_context_factory):
    browser_context_factory.clear_cookies()
    p = browser_context_factory.new_page()
    yield p
    p.close()


@pytest.fixture(autouse=True)
def _audit_triggers_lifted_for_flush(transactional_db):
    """Browser tests need a transactional database, which Django empties with DELETE after
    each test; on SQLite the append-only triggers refuse that, so they are lifted just for
    the flush and restored before the next test that relies on them (see test_audit)."""
    yield
    from django.db import connection

    if connection.vendor == "sqlite":
        with connection.cursor() as cur:
            for t in ("core_changelog", "core_accesslog"):
                for op in ("update", "delete"):
                    cur.execute(f"DROP TRIGGER IF EXISTS {t}_no_{op}")
