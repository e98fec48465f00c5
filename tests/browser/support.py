"""What every browser check needs: a login, a record of console errors and
Content-Security-Policy violations, the horizontal overflow, axe-core's verdict and
screenshots kept for CI under ``var/screenshots/``."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from django.conf import settings
from playwright.sync_api import BrowserContext, Page, expect

AXE = Path(settings.BASE_DIR, "static", "vendor", "axe-core", "axe.min.js")
SCREENSHOTS = Path(os.environ.get("SCREENSHOT_DIR", Path(settings.BASE_DIR, "var", "screenshots")))
DESKTOP, PHONE = 1440, 390

# Registered before any page script runs (CDP, so the policy does not block it).
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  const where = e.sourceFile + ":" + e.lineNumber;
  window.__cspViolations.push(e.violatedDirective + " blocked " + (e.blockedURI || "inline") + " at " + where);
});
"""


def log_in(page: Page, base: str, username: str, password: str, path: str = "/") -> None:
    page.goto(f"{base}{path}")
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"^(?!.*/accounts/login/)"))


class Watch:
    """Console errors, uncaught exceptions and failed requests of one page."""

    def __init__(self, page: Page):
        self.page = page
        self.errors: list[str] = []
        page.add_init_script(RECORD_VIOLATIONS)
        page.on("console", lambda m: self.errors.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(f"page error: {e}"))

    def problems(self) -> list[str]:
        violations = self.page.evaluate("() => window.__cspViolations || []")
        found = self.errors + [f"CSP violation: {v}" for v in violations]
        self.errors = []
        return found


def horizontal_overflow(page: Page) -> int:
    """Pixels the page is wider than the window (0 when nothing sticks out)."""
    return page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")


def screenshot(page: Page, name: str, width: int) -> Path:
    path = SCREENSHOTS / str(width) / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=True)
    return path


def axe_problems(page: Page) -> list[str]:
    """Serious and critical accessibility violations axe-core finds in the page. axe is
    injected from the vendored file, so this runs in a context that bypasses the CSP."""
    page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        """async () => {
            const r = await axe.run(document, {resultTypes: ["violations"]});
            return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                           nodes: v.nodes.slice(0, 3).map(n => n.target.join(" "))}));
        }"""
    )
    return [
        f"{v['impact']} {v['id']}: {v['help']} {json.dumps(v['nodes'])}"
        for v in result
        if v["impact"] in ("serious", "critical")
    ]


def new_context(browser, width: int, **options) -> BrowserContext:
    return browser.new_context(viewport={"width": width, "height": 900}, **options)
