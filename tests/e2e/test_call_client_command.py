"""`manage.py call_client`, the synthetic participant, run as two real processes."""

from __future__ import annotations

import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest

from media_workers.devtools.dsp import SAMPLE_RATE, band_energy
from media_workers.devtools.fake_openai import TONE_FACTORS
from media_workers.devtools.stack import ROOT, Stack
from rooms import services
from tests.support.people import Person, user_for

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def heard(path: Path) -> np.ndarray:
    with wave.open(str(path)) as wav:
        assert wav.getframerate() == SAMPLE_RATE and wav.getnchannels() == 1
        return np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")


def test_it_joins_two_guests_by_invite_and_records_each_others_translation(
    stack: Stack, tmp_path: Path
) -> None:
    owner = user_for(Person("host@example.com", "Host", "en"))
    _, issued = services.room_create(owner=owner, name="Command line")
    invite = f"{stack.base_url}/i/{issued.token}/"

    def guest(name: str, language: str, tone: int) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "manage.py", "call_client", "--url", stack.base_url, "--invite", invite,
             "--name", name, "--language", language, "--tone", str(tone), "--seconds", "6",
             "--record", str(tmp_path / f"{name}.wav")],
            cwd=ROOT, env=stack.env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip

    english, german = guest("Ann", "en", 400), guest("Dieter", "de", 1000)
    outputs = [english.communicate(timeout=60)[0], german.communicate(timeout=60)[0]]
    assert english.returncode == 0 and german.returncode == 0, outputs
    assert "joined room 'Command line' as Ann" in outputs[0]
    assert "translation captions: [tone" in outputs[1]

    ann, dieter = heard(tmp_path / "Ann.wav"), heard(tmp_path / "Dieter.wav")
    last_two_seconds = slice(-2 * SAMPLE_RATE, None)
    assert band_energy(ann[last_two_seconds], SAMPLE_RATE, 1000 * TONE_FACTORS["en"], 25) > 0.4
    assert band_energy(dieter[last_two_seconds], SAMPLE_RATE, 400 * TONE_FACTORS["de"], 25) > 0.4
    assert band_energy(ann[last_two_seconds], SAMPLE_RATE, 400 * TONE_FACTORS["de"], 25) < 0.005
