"""Writes and exports for call transcripts.

Media workers send each finished utterance of a call in a room that keeps transcripts through
Celery (never the database directly); recording one is idempotent on its `utterance_id`.
An utterance is kept only while its room's setting is on when it arrives: turning it off
stops keeping from that moment, even for what a worker had already sent.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from media_workers.shared.contract import UtteranceReport

from .models import Call, Membership, Room, Utterance

logger = logging.getLogger(__name__)

# How far a worker's clock may be ahead of the web tier's when an utterance is matched to its call.
CLOCK_MARGIN = timedelta(seconds=5)
# A subtitle shows at least this long.
MIN_CUE = timedelta(seconds=1)


def _call_at(room: Room, moment: datetime) -> Call | None:
    """The room's call that was under way at `moment`."""
    return (
        Call.objects.filter(room=room, started_at__lte=moment + CLOCK_MARGIN)
        .exclude(ended_at__lt=moment - CLOCK_MARGIN)
        .order_by("-started_at")
        .first()
    )


@transaction.atomic
def utterance_record(*, report: UtteranceReport) -> Utterance | None:
    """Keep one finished utterance; None when its room no longer keeps transcripts (or is gone)."""
    room = Room.objects.filter(public_id=report.room_id).first()
    if room is None or not room.keep_transcripts:
        logger.info(
            "room=%s utterance=%s: not kept, transcripts are off", report.room_id, report.utterance_id
        )
        return None
    started_at = datetime.fromtimestamp(report.started_at, tz=UTC)
    call = _call_at(room, started_at)
    if call is None:
        logger.warning("room=%s utterance=%s: no call at %s", room.public_id, report.utterance_id, started_at)
        return None
    speaker = (
        Membership.objects.filter(pk=report.speaker_id, room=room).first()
        if report.speaker_id.isdigit()
        else None
    )
    utterance, created = Utterance.objects.get_or_create(
        utterance_id=report.utterance_id,
        defaults={
            "call": call,
            "speaker": speaker,
            "speaker_name": report.speaker_name[:60],
            "source_language": report.source_language,
            "started_at": started_at,
            "ended_at": max(started_at, datetime.fromtimestamp(report.ended_at, tz=UTC)),
            "original": report.original,
            "translations": {t.language: t.text for t in report.translations},
        },
    )
    if created:
        logger.info("room=%s call=%s: utterance %s kept", room.public_id, call.pk, utterance.utterance_id)
    return utterance


@transaction.atomic
def transcript_delete(*, call: Call) -> int:
    """Delete what was kept of the call's words (the call's date and people stay); returns how many."""
    deleted, _rows = call.utterances.all().delete()
    logger.info("room=%s call=%s: transcript deleted (%d utterances)", call.room.public_id, call.pk, deleted)
    return deleted


@transaction.atomic
def transcripts_purge(*, retention_days: int) -> int:
    """Delete the transcripts of calls that started more than `retention_days` ago; returns utterances."""
    cutoff = timezone.now() - timedelta(days=retention_days)
    deleted, _rows = Utterance.objects.filter(call__started_at__lt=cutoff).delete()
    if deleted:
        logger.info("purged %d utterances of calls before %s", deleted, cutoff)
    return deleted


# --- Reading and exporting ---------------------------------------------------------------------


@dataclass(frozen=True)
class Line:
    """One utterance as a reader sees it: in their language, with the original beneath."""

    speaker: str
    start: timedelta
    end: timedelta
    text: str
    original: str
    # The language `text` is in.
    language: str
    source_language: str

    @property
    def translated(self) -> bool:
        return self.text != self.original


def lines_for(call: Call, utterances: Iterable[Utterance], language: str) -> list[Line]:
    """The call's utterances in `language` (the original where there is no translation into it)."""
    lines = []
    for utterance in utterances:
        text = utterance.translations.get(language)
        start = max(timedelta(0), utterance.started_at - call.started_at)
        end = max(start + MIN_CUE, utterance.ended_at - call.started_at)
        lines.append(
            Line(
                speaker=utterance.speaker_name,
                start=start,
                end=end,
                text=_one_line(text or utterance.original),
                original=_one_line(utterance.original),
                language=language if text else utterance.source_language,
                source_language=utterance.source_language,
            )
        )
    return lines


def _one_line(text: str) -> str:
    # A blank line would end a subtitle early.
    return " ".join(text.split())


def _clock(delta: timedelta, separator: str) -> str:
    millis = int(delta.total_seconds() * 1000)
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}{separator}{millis:03d}"


def _cue_text(line: Line) -> str:
    text = f"{line.speaker}: {line.text}"
    if line.translated and line.original:
        text += f"\n({line.original})"
    # No cue may hold the arrow that separates a cue's times.
    return text.replace("-->", "->")


def as_text(*, room_name: str, call: Call, lines: list[Line]) -> str:
    """Plain text: a heading, then each utterance with its time from the call's start."""
    heading = _("Call in “%(room)s”, %(date)s") % {
        "room": room_name,
        "date": timezone.localtime(call.started_at).strftime("%Y-%m-%d %H:%M"),
    }
    parts = [heading, ""]
    for line in lines:
        parts.append(f"[{_clock(line.start, '.')[:8]}] {line.speaker}: {line.text}")
        if line.translated and line.original:
            parts.append(f"    {line.original}")
    return "\n".join(parts) + "\n"


def as_webvtt(lines: list[Line]) -> str:
    """WebVTT: one cue per utterance, times from the call's start."""
    cues = [
        f"{index}\n{_clock(line.start, '.')} --> {_clock(line.end, '.')}\n{_escape_vtt(_cue_text(line))}"
        for index, line in enumerate(lines, 1)
    ]
    return "WEBVTT\n\n" + "".join(cue + "\n\n" for cue in cues)


def _escape_vtt(text: str) -> str:
    # A cue's text may not hold "-->" and treats & and < as markup.
    return text.replace("&", "&amp;").replace("<", "&lt;")


def as_srt(lines: list[Line]) -> str:
    """SubRip: one numbered subtitle per utterance, times from the call's start."""
    cues = [
        f"{index}\n{_clock(line.start, ',')} --> {_clock(line.end, ',')}\n{_cue_text(line)}"
        for index, line in enumerate(lines, 1)
    ]
    return "".join(cue + "\n\n" for cue in cues)
