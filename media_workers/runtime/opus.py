"""Opus at the worker's own rate: libopus called directly, 24 kHz mono in and out.

aiortc's codec (through PyAV) decodes to 48 kHz stereo, which the worker then resampled to
24 kHz mono, and encodes 48 kHz stereo at 96 kbit/s through a resampler and a thread-pool hop
per frame. libopus does both at 24 kHz mono natively, conceals a lost packet (PLC) and
recovers it from the next packet's in-band FEC; PyAV exposes neither. The library is the one
PyAV's wheel bundles (already loaded in this process), or the system's libopus.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import glob
import os

import av
import numpy as np

from media_workers.runtime.audio import SAMPLE_RATE

# From opus_defines.h.
_OPUS_APPLICATION_VOIP = 2048
_OPUS_APPLICATION_RESTRICTED_LOWDELAY = 2051
_OPUS_SET_BITRATE = 4002
_OPUS_SET_COMPLEXITY = 4010
_OPUS_SET_INBAND_FEC = 4012
_OPUS_SET_PACKET_LOSS_PERC = 4014
_OPUS_SET_SIGNAL = 4024
_OPUS_SIGNAL_VOICE = 3001
# The longest Opus packet lasts 120 ms.
MAX_FRAME_SAMPLES = SAMPLE_RATE * 120 // 1000
_MAX_PACKET_BYTES = 1500

# A voice at 24 kHz mono: what browsers send for speech (Chrome's default is 32 kbit/s mono).
VOICE_BITRATE = 32000
# libopus's default is 10; 5 costs about two thirds of it for speech that sounds the same.
COMPLEXITY = 5
# The encoder spends a little of its bitrate on FEC for the previous frame at this expected loss.
EXPECTED_LOSS_PERCENT = 5


class OpusError(RuntimeError):
    """libopus returned an error code."""


def _library_paths() -> list[str]:
    bundled = os.path.join(os.path.dirname(av.__file__), os.pardir, "av.libs", "libopus*.so*")
    system = ctypes.util.find_library("opus")
    return sorted(glob.glob(bundled)) + ([system] if system else [])


@functools.cache
def library() -> ctypes.CDLL:
    """libopus, with the signatures of the functions used here declared."""
    for path in _library_paths():
        try:
            lib = ctypes.CDLL(path)
            break
        except OSError:
            continue
    else:
        raise OpusError("libopus not found: neither PyAV's wheel nor the system provides it (apt: libopus0)")
    c_int, c_void_p, c_char_p = ctypes.c_int, ctypes.c_void_p, ctypes.c_char_p
    lib.opus_get_version_string.restype = c_char_p
    lib.opus_strerror.restype = c_char_p
    lib.opus_strerror.argtypes = [c_int]
    lib.opus_encoder_create.restype = c_void_p
    lib.opus_encoder_create.argtypes = [ctypes.c_int32, c_int, c_int, ctypes.POINTER(c_int)]
    lib.opus_encoder_destroy.argtypes = [c_void_p]
    lib.opus_encoder_ctl.argtypes = [c_void_p, c_int, c_int]
    lib.opus_encode.restype = ctypes.c_int32
    lib.opus_encode.argtypes = [c_void_p, c_void_p, c_int, c_char_p, ctypes.c_int32]
    lib.opus_decoder_create.restype = c_void_p
    lib.opus_decoder_create.argtypes = [ctypes.c_int32, c_int, ctypes.POINTER(c_int)]
    lib.opus_decoder_destroy.argtypes = [c_void_p]
    lib.opus_decode.restype = c_int
    lib.opus_decode.argtypes = [c_void_p, c_char_p, ctypes.c_int32, c_void_p, c_int, c_int]
    lib.opus_packet_get_nb_samples.restype = c_int
    lib.opus_packet_get_nb_samples.argtypes = [c_char_p, ctypes.c_int32, ctypes.c_int32]
    return lib


def version() -> str:
    return str(library().opus_get_version_string().decode())


def _check(code: int, what: str) -> int:
    if code < 0:
        raise OpusError(f"{what}: {library().opus_strerror(code).decode()}")
    return code


class Decoder:
    """One remote stream's Opus decoder: packets in, PCM16 mono 24 kHz bytes out."""

    def __init__(self) -> None:
        lib = library()
        self._destroy = lib.opus_decoder_destroy
        error = ctypes.c_int()
        self._state = lib.opus_decoder_create(SAMPLE_RATE, 1, ctypes.byref(error))
        _check(error.value, "opus_decoder_create")
        self._out = np.empty(MAX_FRAME_SAMPLES, dtype=np.int16)
        self._out_ptr = self._out.ctypes.data
        self._decode = lib.opus_decode
        # The length of the last frame: what a lost one most likely had.
        self.last_samples = SAMPLE_RATE * 20 // 1000

    def decode(self, packet: bytes) -> bytes:
        n = self._decode(self._state, packet, len(packet), self._out_ptr, MAX_FRAME_SAMPLES, 0)
        _check(n, "decode")
        self.last_samples = n
        return self._out[:n].tobytes()

    def conceal(self, next_packet: bytes | None = None) -> bytes:
        """A lost frame: recovered from the next packet's in-band FEC if given, else concealed."""
        n = self.last_samples
        if next_packet:
            n = _check(self._decode(self._state, next_packet, len(next_packet), self._out_ptr, n, 1), "fec")
        else:
            n = _check(self._decode(self._state, None, 0, self._out_ptr, n, 0), "plc")
        return self._out[:n].tobytes()

    def __del__(self) -> None:
        state, self._state = getattr(self, "_state", None), None
        if state:
            self._destroy(state)


class Encoder:
    """One listener's Opus encoder: PCM16 mono 24 kHz frames in, Opus packets out."""

    def __init__(
        self,
        *,
        bitrate: int = VOICE_BITRATE,
        complexity: int = COMPLEXITY,
        application: int = _OPUS_APPLICATION_VOIP,
    ) -> None:
        lib = library()
        self._destroy = lib.opus_encoder_destroy
        error = ctypes.c_int()
        self._state = lib.opus_encoder_create(SAMPLE_RATE, 1, application, ctypes.byref(error))
        _check(error.value, "opus_encoder_create")
        for request, value in (
            (_OPUS_SET_BITRATE, bitrate),
            (_OPUS_SET_COMPLEXITY, complexity),
            (_OPUS_SET_SIGNAL, _OPUS_SIGNAL_VOICE),
            (_OPUS_SET_INBAND_FEC, 1),
            (_OPUS_SET_PACKET_LOSS_PERC, EXPECTED_LOSS_PERCENT),
        ):
            _check(lib.opus_encoder_ctl(self._state, request, value), f"opus_encoder_ctl({request})")
        self._buffer = ctypes.create_string_buffer(_MAX_PACKET_BYTES)
        self._encode = lib.opus_encode

    def encode(self, samples: np.ndarray) -> bytes:
        """One frame of 2.5-60 ms (int16, C-contiguous) -> one Opus packet."""
        if samples.dtype != np.int16:
            raise ValueError(f"expected int16 samples, got {samples.dtype}")
        data = np.ascontiguousarray(samples)
        n = _check(
            self._encode(self._state, data.ctypes.data, len(data), self._buffer, _MAX_PACKET_BYTES), "encode"
        )
        return self._buffer.raw[:n]

    def __del__(self) -> None:
        state, self._state = getattr(self, "_state", None), None
        if state:
            self._destroy(state)


@functools.cache
def silence(frame_samples: int) -> bytes:
    """A packet that decodes to exact digital silence: CELT's silence frame (3 bytes at 20 ms).

    A voice encoder's own packets for silence decode to a faint noise floor (SILK), so a
    listener's player never hears true quiet; this one may follow any packet.
    """
    encoder = Encoder(application=_OPUS_APPLICATION_RESTRICTED_LOWDELAY)
    zeros = np.zeros(frame_samples, dtype=np.int16)
    # The first packet still carries the encoder's start-up; the next ones are the silence frame.
    packets = [encoder.encode(zeros) for _ in range(3)]
    return packets[-1]
