"""Fixtures and page helpers for driving the room page in Debian's Chromium through Playwright.

Each browser gets a WAV tone as its microphone (Chrome's fake capture device loops it). What a
page plays is measured inside the page, with an AnalyserNode on the call's `<audio>` element.

Sync Playwright keeps an event loop running in this thread while it is started, and Django
refuses ORM calls then: rows are made before the `chromium` fixture starts, and the database is
flushed after it stops (fixtures tear down in reverse order).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from media_workers.devtools.call_client import write_wav
from media_workers.devtools.dsp import tone
from media_workers.devtools.fake_openai import TONE_FACTORS
from media_workers.devtools.stack import ROOT, Stack
from tests.support.people import PASSWORD, Person
from tests.support.rooms import make_room
from tests.support.stack import running_stack

CHROMIUM = "/usr/bin/chromium"
# Chrome's fake capture device runs at 48 kHz; a file at that rate is played without resampling.
WAV_RATE = 48_000
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
# How much of what a page plays must be one tone to say it hears it, and below which it is absent.
ALICE = Person("alice@example.com", "Alice", "en")
BRUNO = Person("bruno@example.com", "Bruno", "es")
ALICE_TONE = 400
BRUNO_TONE = 1000
ALICE_IN_SPANISH = ALICE_TONE * TONE_FACTORS["es"]
ALICE_IN_GERMAN = ALICE_TONE * TONE_FACTORS["de"]
BRUNO_IN_ENGLISH = BRUNO_TONE * TONE_FACTORS["en"]
HEARS = 0.4
ABSENT = 0.01
# Every wait in these tests ends: the call usually settles within a few seconds.
AUDIO_TIMEOUT_S = 20.0
UI_TIMEOUT_MS = 15_000

expect.set_options(timeout=UI_TIMEOUT_MS)

CHROMIUM_ARGS = [
    "--use-fake-device-for-media-stream",
    "--allow-loopback-in-peer-connection",
    "--autoplay-policy=no-user-gesture-required",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    # The media worker only listens on 127.0.0.1: the browser must offer real (loopback) addresses.
    "--disable-features=WebRtcHideLocalIpsWithMdns",
]


@pytest.fixture(scope="module")
def stack(django_db_setup: None) -> Iterator[Stack]:
    """One set of service processes per module: starting them is the slow part, and a stack
    must not outlive its module (the next module's stack would share its Redis registry)."""
    with running_stack(fake_mode="tone") as running:
        yield running


Launch = Callable[..., Browser]


@pytest.fixture
def chromium(tmp_path: Path) -> Iterator[Launch]:
    """Launches Chromium with a tone (Hz) as its microphone; `grant=False` leaves the mic to a prompt."""
    with sync_playwright() as playwright:
        browsers: list[Browser] = []

        def launch(tone_hz: float = 440.0, *, grant: bool = True) -> Browser:
            wav = tmp_path / f"mic-{tone_hz:.0f}-{len(browsers)}.wav"
            write_wav(wav, tone(tone_hz, 10.0, sample_rate=WAV_RATE), sample_rate=WAV_RATE)
            args = [*CHROMIUM_ARGS, f"--use-file-for-fake-audio-capture={wav}"]
            if grant:
                args.append("--use-fake-ui-for-media-stream")
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=args)
            browsers.append(browser)
            return browser

        try:
            yield launch
        finally:
            for browser in browsers:
                browser.close()


def new_page(browser: Browser, width: int = 390, height: int = 844) -> Page:
    context = browser.new_context(viewport={"width": width, "height": height})
    context.set_default_timeout(UI_TIMEOUT_MS)
    return context.new_page()


def log_in(page: Page, base_url: str, email: str) -> None:
    page.goto(f"{base_url}/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password:", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("link", name="My rooms")).to_be_visible()


def join_call(page: Page) -> None:
    page.get_by_role("button", name="Join call").click()
    expect(page.locator("[data-call-state]")).to_have_text("In the call")


# Averages the analyser's power spectrum of the remote stream over `seconds`.
SPECTRUM_JS = """
async (seconds) => {
  const stream = document.querySelector("[data-call-audio]").srcObject;
  if (!stream) return null;
  const context = (window.__probe ??= new AudioContext());
  await context.resume();
  const source = context.createMediaStreamSource(stream);
  const analyser = context.createAnalyser();
  analyser.fftSize = 8192;
  analyser.smoothingTimeConstant = 0;
  source.connect(analyser);
  const frame = new Float32Array(analyser.frequencyBinCount);
  const power = new Float64Array(analyser.frequencyBinCount);
  const frameMs = (1000 * analyser.fftSize) / context.sampleRate;
  for (let i = 0; i < Math.max(1, Math.round((seconds * 1000) / frameMs)); i++) {
    await new Promise((resolve) => setTimeout(resolve, frameMs));
    analyser.getFloatFrequencyData(frame);
    frame.forEach((db, k) => { power[k] += 10 ** (db / 10); });
  }
  source.disconnect();
  return { binHz: context.sampleRate / analyser.fftSize, power: Array.from(power) };
}
"""


@dataclass
class Spectrum:
    """What a page played over about a second, as power per frequency bin."""

    bin_hz: float
    power: np.ndarray

    def share(self, freq: float, width_hz: float = 25.0) -> float:
        """The share of the audible power (50 Hz to 8 kHz) within `width_hz` of `freq`."""
        bins = np.arange(self.power.size) * self.bin_hz
        audible = self.power[(bins >= 50) & (bins <= 8000)]
        total = float(audible.sum())
        if total <= 0:
            return 0.0
        return float(self.power[np.abs(bins - freq) <= width_hz].sum()) / total


def listen(page: Page, seconds: float = 1.0) -> Spectrum:
    measured = page.evaluate(SPECTRUM_JS, seconds)
    if measured is None:
        return Spectrum(1.0, np.zeros(1))
    return Spectrum(measured["binHz"], np.array(measured["power"]))


def until_hears(page: Page, freq: float, *, audible: bool = True) -> float:
    """Listens until `freq` is clearly there (or clearly gone); returns its last share."""
    deadline = time.monotonic() + AUDIO_TIMEOUT_S
    while True:
        share = listen(page, seconds=0.7).share(freq)
        if (share > HEARS) if audible else (share < ABSENT):
            return share
        if time.monotonic() > deadline:
            return share


def caption_tones(page: Page) -> list[int]:
    """The frequencies the fake translator wrote into this page's translated captions."""
    text = " ".join(page.locator(".caption-translation").all_inner_texts())
    return [int(value) for value in re.findall(r"(\d+) Hz", text)]


def screenshot(page: Page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / name
    page.screenshot(path=str(path))
    return path


@pytest.fixture
def room_url(stack: Stack) -> str:
    """A room of Alice's, made before any browser starts (see conftest)."""
    return f"{stack.base_url}/r/{make_room(ALICE).public_id}/"


def open_room(page: Page, stack: Stack, room_url: str) -> None:
    log_in(page, stack.base_url, ALICE.email)
    page.goto(room_url)


def hello() -> dict[str, object]:
    """What the server says first, as the consumer sends it."""
    return {
        "type": "hello",
        "participant": {
            "id": "1",
            "name": "Alice",
            "speak": "en",
            "hear": "en",
            "original_volume": 0.15,
            "translation_volume": 1.0,
            "muted": False,
        },
        "room": {"id": "room", "name": "Kitchen table"},
        "demo": False,
        "ice_servers": [],
        "languages": {"en": "English", "es": "Español"},
        "original_volume": 0.15,
    }


def assert_hears(page: Page, freq: float) -> None:
    share = until_hears(page, freq)
    assert share > HEARS, f"{page.url} plays {freq:.0f} Hz at only {share:.2f} of its sound"
