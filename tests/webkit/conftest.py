"""Fixtures for the WebKit lane: Debian's WebKitGTK (Safari's engine) driven by Selenium under Xvfb.

Recipe and limits: ../shared/webkit-testing.md. This engine has no RTCPeerConnection, so it is
exactly "a browser that cannot make calls", and it runs everything up to the call: the pages,
the ES modules under our CSP, the signalling socket, a mock microphone and Safari's rule that
sound starts only from a tap.

Every page is shown inside a 390-px-wide iframe of a page of the same site: the engine's window
can't be narrower than about 447 px, and WebKitWebDriver has no way to read the console, so the
frame's host also collects the framed page's errors (uncaught exceptions, rejected promises,
Content-Security-Policy violations, console.error) from the moment each document starts. The
stack therefore allows framing by the site itself (`frame-ancestors 'self'`); the rest of the
policy is the production one.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.conf import settings
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait
from selenium.webdriver.webkitgtk.options import Options
from selenium.webdriver.webkitgtk.service import Service

from media_workers.devtools.stack import ROOT, Stack
from tests.support.stack import running_stack

DRIVER = "/usr/bin/WebKitWebDriver"
MINIBROWSER = "/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser"
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
PHONE_WIDTH, PHONE_HEIGHT = 390, 844
# An iPhone's Safari, for the pages that read the user agent.
IPHONE_UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/18.5 Mobile/15E148 Safari/604.1"
)
WAIT_S = 15.0

FRAME_JS = (Path(__file__).with_name("frame_host.js")).read_text()


@pytest.fixture(scope="session")
def display() -> Iterator[str]:
    """An X display for the engine: the one we run in, or an Xvfb of our own."""
    if os.environ.get("DISPLAY"):
        yield os.environ["DISPLAY"]
        return
    if not shutil.which("Xvfb"):
        pytest.fail("Xvfb is missing: ./scripts/test installs it (apt: xvfb xauth)")
    read, write = os.pipe()
    xvfb = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write), "-screen", "0", "1280x1024x24", "-nolisten", "tcp"],
        pass_fds=[write],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write)
    with os.fdopen(read) as pipe:
        number = pipe.readline().strip()
    try:
        yield f":{number}"
    finally:
        xvfb.terminate()
        xvfb.wait(timeout=10)


@pytest.fixture(scope="module")
def stack(django_db_setup: None) -> Iterator[Stack]:
    policy = settings.CONTENT_SECURITY_POLICY
    assert "frame-ancestors 'none'" in policy
    framable = policy.replace("frame-ancestors 'none'", "frame-ancestors 'self'")
    with running_stack(fake_mode="tone", extra_env={"CONTENT_SECURITY_POLICY": framable}) as running:
        yield running


class Phone:
    """One WebKit window showing the site in a phone-sized frame."""

    def __init__(self, driver: webdriver.WebKitGTK, base_url: str) -> None:
        self.driver = driver
        self.base_url = base_url
        self.in_frame = False

    def open(self, path: str) -> None:
        """Shows `path` in the frame; the host is a page of the same site (its 404 page)."""
        self.host()
        self.driver.get(f"{self.base_url}/webkit-frame-host/")
        self.driver.execute_script(FRAME_JS, f"{self.base_url}{path}", PHONE_WIDTH, PHONE_HEIGHT)
        self.wait(lambda: self.driver.execute_script(
            "const d = document.getElementById('phone').contentDocument;"
            "return d && d.readyState === 'complete' && d.location.href !== 'about:blank'"
        ))  # fmt: skip
        self.frame()

    def host(self) -> None:
        if self.in_frame:
            self.driver.switch_to.default_content()
            self.in_frame = False

    def frame(self) -> None:
        if not self.in_frame:
            self.driver.switch_to.frame(self.driver.find_element(By.ID, "phone"))
            self.in_frame = True

    def errors(self) -> list[str]:
        """Everything that went wrong in the framed pages so far."""
        self.host()
        errors: list[str] = self.driver.execute_script("return window.__errors")
        self.frame()
        return errors

    def path(self) -> str:
        return str(self.driver.execute_script("return location.pathname"))

    def wait(self, condition: Callable[[], object], timeout: float = WAIT_S) -> None:
        WebDriverWait(self.driver, timeout, poll_frequency=0.1).until(lambda _: condition())

    def wait_for_page(self, path_prefix: str) -> None:
        """After a form or link moved the frame on: waits until `path_prefix` has loaded."""
        self.host()
        self.wait(lambda: self.driver.execute_script(
            "const d = document.getElementById('phone').contentDocument;"
            "return d.readyState === 'complete' && d.location.pathname.startsWith(arguments[0])",
            path_prefix,
        ))  # fmt: skip
        self.frame()

    def find(self, css: str) -> WebElement:
        return self.driver.find_element(By.CSS_SELECTOR, css)

    def field(self, label: str) -> WebElement:
        """The form field labelled `label` (its label's text, before any colon)."""
        for element in self.driver.find_elements(By.TAG_NAME, "label"):
            if element.text.strip().rstrip(":") == label and element.get_attribute("for"):
                return self.driver.find_element(By.ID, element.get_attribute("for"))
        raise AssertionError(f"no field labelled {label!r} on {self.path()}")

    def button(self, text: str) -> WebElement:
        for element in self.driver.find_elements(By.CSS_SELECTOR, "button, input[type=submit]"):
            # Case-insensitive, as people read buttons (allauth says "Sign Up").
            if element.text.strip().casefold() == text.casefold() and element.is_displayed():
                return element
        raise AssertionError(f"no visible button {text!r} on {self.path()}")

    def text_of(self, css: str) -> str:
        script = "return document.querySelector(arguments[0])?.textContent ?? ''"
        return str(self.driver.execute_script(script, css))

    def screenshot(self, name: str) -> Path:
        """The whole window: the phone-sized frame at its top left (frame-only shots come out banded)."""
        self.host()
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / name
        self.driver.save_screenshot(str(path))
        self.frame()
        return path


Launch = Callable[..., Phone]


@pytest.fixture
def webkit(display: str, stack: Stack, tmp_path: Path) -> Iterator[Launch]:
    """Starts WebKit windows (with the mock microphone); `user_agent` makes one pass for another browser."""
    drivers: list[webdriver.WebKitGTK] = []

    def launch(*, user_agent: str | None = None) -> Phone:
        options = Options()
        options.binary_location = MINIBROWSER
        # --automation: without it the session is refused; browserName: without it the request hangs.
        options.set_capability("browserName", "MiniBrowser")
        for arg in (
            "--automation",
            "--enable-media-stream=true",
            "--enable-mock-capture-devices=true",
            # iOS Safari's rule (WebKitGTK's default is off): sound starts only from a tap.
            "--media-playback-requires-user-gesture=true",
        ):
            options.add_argument(arg)
        if user_agent:
            options.add_argument(f"--user-agent={user_agent}")
        service = Service(
            executable_path=DRIVER,
            env={**os.environ, "DISPLAY": display},
            log_output=str(tmp_path / f"webkitwebdriver-{len(drivers)}.log"),
        )
        driver = webdriver.WebKitGTK(options=options, service=service)
        drivers.append(driver)
        driver.set_window_size(1024, 900)
        return Phone(driver, stack.base_url)

    try:
        yield launch
    finally:
        for driver in drivers:
            driver.quit()
