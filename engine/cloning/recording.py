"""A reference recording for cloning: read, mixed to mono, resampled, and checked.

    load_recording(path) -> Recording(audio float32 mono at 24 kHz, speech_seconds, levels ...)

Every problem that would make a poor voice is refused at this boundary with one `RecordingError`
naming the problem and the value measured (checked in this order; the first one found is said):

    unreadable     not a file, not audio, or a format neither soundfile nor `wave` reads
    too_long       more than `max_seconds` of file (default 5 minutes)
    clipping       runs of samples stuck at the recording's peak (digital clipping)
    too_quiet      loud speech frames below `min_level_dbfs`
    too_noisy      estimated signal-to-noise ratio below `min_snr_db`
    mostly_silence less than `min_speech_fraction` of the file is speech
    too_short      less than `min_speech_seconds` of speech
    several_speakers  speech windows fall into two clearly different voices

Speech is found with an energy voice-activity detector over 20 ms frames whose threshold follows
the recording (its noise floor and its loud frames), so a quiet room and a noisy one are both read
fairly. The speaker test embeds 1.6-second speech windows with Resemblyzer when it is installed (the
`eval` or `train` extra) and splits them in two; without it, it compares the windows' median pitch,
which only tells a low voice from a high one (a man and a woman), not two voices of one pitch. The
thresholds and what they were measured on are in docs/cloning.md.

WAV (PCM, float) and FLAC are read with soundfile (OGG, AIFF and the rest of libsndfile's formats
too); without soundfile, PCM WAV is read with the standard library and anything else is refused
with the extra to install. Nothing here imports torch: Resemblyzer's check is on the training side
(engine/train/speaker.py), used when it is installed.
"""

from __future__ import annotations

import io
import math
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import SAMPLE_RATE
from ..errors import RecordingError

FRAME_SECONDS = 0.02
MIN_INPUT_RATE = 8000


@dataclass(frozen=True)
class RecordingLimits:
    """What a reference recording must satisfy; each field is one check's threshold."""

    min_speech_seconds: float = 10.0
    """Seconds of speech (voice activity) at least: less gives the fit too little to hear."""
    max_seconds: float = 300.0
    """Length of the file at most: more is slow to fit and seldom one clean take."""
    max_clipped_fraction: float = 0.001
    """Share of samples in runs stuck at the peak (three or more equal samples) at most."""
    min_level_dbfs: float = -40.0
    """Level of the loud speech frames (the 95th percentile of 20 ms frames) at least, in dBFS."""
    min_snr_db: float = 20.0
    """Estimated signal-to-noise ratio at least: loud frames over the noise floor (10th percentile)."""
    min_speech_fraction: float = 0.3
    """Share of the file that is speech at least."""
    max_speaker_distance: float = 0.2
    """Two speech-window clusters whose centroids' cosine similarity is below 1 - this (Resemblyzer)
    are two speakers."""
    max_pitch_ratio: float = 1.45
    """Without Resemblyzer: two clusters of window median pitch further apart than this ratio
    (6.4 semitones) are two speakers."""
    min_minority_share: float = 0.15
    """The smaller cluster must hold at least this share of the speech windows to count as a
    second speaker (a cough or a laugh does not)."""

    def __post_init__(self):
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ValueError(f"RecordingLimits.{name} must be a finite number, got {value!r}")
        if not 0 < self.min_speech_seconds < self.max_seconds:
            raise ValueError(f"need 0 < min_speech_seconds < max_seconds, got {self.min_speech_seconds!r}, "
                             f"{self.max_seconds!r}")


@dataclass(frozen=True)
class Recording:
    """A checked reference recording."""

    audio: np.ndarray
    """float32 mono at `sample_rate`, peak as recorded (not normalised)."""
    sample_rate: int
    speech_seconds: float
    """Seconds of 20 ms frames the voice-activity detector calls speech."""
    seconds: float
    """Length of the file."""
    source_rate: int
    """The file's own sample rate."""
    channels: int
    """The file's channel count (mixed to mono here)."""
    level_dbfs: float
    """Loud speech level: the 95th percentile of 20 ms frame levels."""
    snr_db: float
    """Estimated signal-to-noise ratio: `level_dbfs` minus the noise floor (10th percentile)."""
    clipped_fraction: float
    speaker_method: str
    """"resemblyzer" or "pitch": how the several-speakers check decided; "none": skipped."""
    speaker_distance: float
    """The check's measured separation of the two most different groups of speech windows:
    1 - cosine of their centroids (resemblyzer) or their median pitch ratio (pitch)."""


# --- reading ---------------------------------------------------------------------------------

def read_audio(path: Path) -> tuple[np.ndarray, int]:
    """The file's samples as float32 (frames, channels) in [-1, 1] and its sample rate."""
    path = Path(path)
    if not path.is_file():
        raise RecordingError("unreadable", f"{path}: no such file" if not path.exists() else f"{path}: not a file")
    try:
        import soundfile
    except ImportError:
        soundfile = None
    if soundfile is not None:
        try:
            data, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
        except (soundfile.LibsndfileError, RuntimeError, ValueError, TypeError) as exc:
            raise RecordingError("unreadable", f"{path}: not an audio file Echoic can read ({exc}); "
                                 "use WAV or FLAC") from exc
        return data, int(rate)
    try:
        with wave.open(str(path), "rb") as w:
            width, channels, rate = w.getsampwidth(), w.getnchannels(), w.getframerate()
            raw = w.readframes(w.getnframes())
    except (wave.Error, EOFError, OSError) as exc:
        raise RecordingError("unreadable", f"{path}: not a PCM WAV file ({exc}); FLAC and other formats "
                             "need soundfile: pip install 'echoic[train]'") from exc
    if width == 1:
        data = (np.frombuffer(raw, np.uint8).astype(np.float32) - 128.0) / 128.0
    elif width in (2, 4):
        data = np.frombuffer(raw, f"<i{width}").astype(np.float32) / float(2 ** (8 * width - 1))
    elif width == 3:
        b = np.frombuffer(raw, np.uint8).reshape(-1, 3).astype(np.int32)
        data = ((b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)) << 8 >> 8).astype(np.float32) / 2.0 ** 23
    else:
        raise RecordingError("unreadable", f"{path}: {8 * width}-bit WAV is not supported")
    return data.reshape(-1, channels), rate


def resample(audio: np.ndarray, source_rate: int, target_rate: int) -> np.ndarray:
    """Band-limited resampling of float32 mono by the ratio target/source: a Kaiser-windowed sinc
    (64 taps at the lower rate, beta 8.6: stop band about -80 dB, pass band flat to about
    0.8 of the lower Nyquist frequency) evaluated at each output
    sample's exact position, low-passed at 0.95 of the lower Nyquist frequency."""
    if source_rate == target_rate or len(audio) == 0:
        return np.asarray(audio, np.float32)
    g = math.gcd(source_rate, target_rate)
    up, down = target_rate // g, source_rate // g
    cutoff = 0.95 * min(1.0, up / down)  # of the input's Nyquist frequency
    half = int(math.ceil(32 / cutoff))  # taps each side, in input samples
    beta = 8.6
    n_out = int(len(audio) * up // down)
    padded = np.concatenate([np.zeros(half, np.float32), np.asarray(audio, np.float32), np.zeros(half + 1, np.float32)])
    # One kernel per phase (output position modulo the input grid): up distinct fractional offsets.
    phases = np.arange(up)
    frac = phases / up  # (up,): kernel k serves outputs whose position is base + k/up
    taps = np.arange(-half + 1, half + 1)  # (2*half,)
    t = taps[None, :] - frac[:, None]  # (up, 2*half): input index offset minus the fraction
    window = np.i0(beta * np.sqrt(np.clip(1.0 - (t / (half + 1)) ** 2, 0.0, 1.0))) / np.i0(beta)
    kernels = (cutoff * np.sinc(cutoff * t) * window).astype(np.float32)  # (up, 2*half)
    out = np.empty(n_out, np.float32)
    block = 1 << 15
    for start in range(0, n_out, block):
        n = np.arange(start, min(start + block, n_out))
        base = n * down // up  # (B,) the input sample at or before each output position
        idx = base[:, None] + taps[None, :] + half  # (B, 2*half) into `padded`
        out[start:start + len(n)] = np.einsum("bk,bk->b", padded[idx], kernels[(n * down) % up])
    return out


def encode_flac(audio: np.ndarray, sample_rate: int) -> tuple[bytes, str]:
    """float32 mono -> (file bytes, suffix): FLAC with soundfile, else 16-bit WAV."""
    try:
        import soundfile
    except ImportError:
        soundfile = None
    buffer = io.BytesIO()
    if soundfile is not None:
        soundfile.write(buffer, np.asarray(audio, np.float32), sample_rate, format="FLAC", subtype="PCM_16")
        return buffer.getvalue(), ".reference.flac"
    with wave.open(buffer, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sample_rate)
        w.writeframes((np.clip(audio, -1, 1) * 32767).round().astype("<i2").tobytes())
    return buffer.getvalue(), ".reference.wav"


# --- measuring -------------------------------------------------------------------------------

def clipped_fraction(frames: np.ndarray) -> float:
    """Share of samples (over all channels) in runs of 3+ consecutive samples at the channel's
    peak magnitude (within 1e-4 of it): what digital clipping leaves, and natural peaks do not."""
    total, clipped = 0, 0
    for channel in np.asarray(frames, np.float32).reshape(len(frames), -1).T:
        total += len(channel)
        peak = float(np.max(np.abs(channel))) if len(channel) else 0.0
        if peak <= 0.0:
            continue
        at_peak = np.abs(channel) >= peak * (1.0 - 1e-4)
        # run lengths of True stretches
        edges = np.diff(np.concatenate([[0], at_peak.astype(np.int8), [0]]))
        starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
        lengths = ends - starts
        clipped += int(lengths[lengths >= 3].sum())
    return clipped / total if total else 0.0


def frame_levels(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """dBFS of each 20 ms frame (RMS; digital silence is -100)."""
    n = int(sample_rate * FRAME_SECONDS)
    frames = audio[: len(audio) // n * n].reshape(-1, n).astype(np.float64)  # (F, n)
    power = np.mean(frames * frames, axis=1)
    return 10.0 * np.log10(np.maximum(power, 1e-10))


@dataclass(frozen=True)
class Activity:
    """Energy voice activity: levels per frame and which frames are speech."""

    levels: np.ndarray
    speech: np.ndarray
    """bool per 20 ms frame."""
    loud_dbfs: float
    floor_dbfs: float

    @property
    def snr_db(self) -> float:
        return self.loud_dbfs - self.floor_dbfs

    @property
    def speech_seconds(self) -> float:
        return float(self.speech.sum()) * FRAME_SECONDS


def voice_activity(audio: np.ndarray, sample_rate: int) -> Activity:
    """Frames louder than both the noise floor + 6 dB and the loud level - 30 dB are speech; a
    frame between two speech frames within 100 ms is speech too (the quiet middles of words)."""
    levels = frame_levels(audio, sample_rate)
    if len(levels) == 0:
        return Activity(levels, np.zeros(0, bool), -100.0, -100.0)
    loud = float(np.percentile(levels, 95))
    floor = float(np.percentile(levels, 10))
    threshold = max(floor + 6.0, loud - 30.0)
    speech = levels > threshold
    gap = 5  # frames: 100 ms
    idx = np.flatnonzero(speech)
    for a, b in zip(idx[:-1], idx[1:]):
        if 1 < b - a <= gap:
            speech[a:b] = True
    return Activity(levels, speech, loud, floor)


# --- several speakers ----------------------------------------------------------------------

WINDOW_SECONDS = 1.6
"""Resemblyzer's partial utterance: 160 mel frames of 10 ms."""


def speech_windows(audio: np.ndarray, sample_rate: int, activity: Activity) -> list[np.ndarray]:
    """Non-overlapping 1.6 s windows of speech-only audio, in time order: the speech frames are
    joined (pauses dropped) and cut every 1.6 s."""
    n = int(sample_rate * FRAME_SECONDS)
    frames = audio[: len(activity.speech) * n].reshape(-1, n)[activity.speech]
    speech = frames.reshape(-1)
    size = int(WINDOW_SECONDS * sample_rate)
    return [speech[i:i + size] for i in range(0, len(speech) - size + 1, size)]


def two_groups(points: np.ndarray, iterations: int = 20) -> np.ndarray:
    """Labels 0/1 from 2-means started at the two points furthest apart (deterministic)."""
    d = np.linalg.norm(points[:, None, :] - points[None, :, :], axis=-1)
    a, b = np.unravel_index(int(np.argmax(d)), d.shape)
    centres = points[[a, b]].astype(np.float64)
    labels = np.zeros(len(points), int)
    for _ in range(iterations):
        labels = np.argmin(np.linalg.norm(points[:, None, :] - centres[None], axis=-1), axis=1)
        for k in (0, 1):
            if np.any(labels == k):
                centres[k] = points[labels == k].mean(axis=0)
    return labels


def resemblyzer_split():
    """Resemblyzer's speaker split (engine/train/speaker.py: torch, the train extra) as a function
    of (windows, sample rate), or None where torch, Resemblyzer or the training side is missing."""
    try:
        from ..train.speaker import resemblyzer_encoder, speaker_split_resemblyzer
    except ImportError:
        return None
    encoder = resemblyzer_encoder()
    if encoder is None:
        return None
    return lambda windows, sample_rate: speaker_split_resemblyzer(windows, sample_rate, encoder)


def median_pitch(window: np.ndarray, sample_rate: int) -> float | None:
    """Median F0 (Hz) of the voiced 40 ms frames of a window by normalised autocorrelation
    (60-400 Hz; a frame is voiced when its best lag correlates above 0.5); None if none is."""
    n = int(0.04 * sample_rate)
    lo, hi = int(sample_rate / 400), int(sample_rate / 60)
    starts = np.arange(0, len(window) - n - hi, n)
    if len(starts) == 0:
        return None
    x = np.asarray(window, np.float64)[starts[:, None] + np.arange(n + hi)[None, :]]  # (F, n + hi)
    x -= x.mean(axis=1, keepdims=True)
    head = x[:, :n]  # (F, n)
    energy = np.einsum("fn,fn->f", head, head)
    lags = np.arange(lo, hi)
    r = np.empty((len(starts), len(lags)))
    for j, lag in enumerate(lags):
        seg = x[:, lag:lag + n]
        r[:, j] = np.einsum("fn,fn->f", head, seg) / np.sqrt(energy * np.einsum("fn,fn->f", seg, seg) + 1e-12)
    best = np.argmax(r, axis=1)
    voiced = (r[np.arange(len(starts)), best] > 0.5) & (energy > 1e-8)
    return float(np.median(sample_rate / lags[best[voiced]])) if voiced.any() else None


def speaker_split_pitch(windows: list[np.ndarray], sample_rate: int) -> tuple[float, float]:
    """(ratio of the two groups' median pitch, the smaller group's share); (1, 0) when too few
    windows are voiced. Pitch is measured on 8 kHz audio (enough for 60-400 Hz, and fast)."""
    rate = 8000
    pitches = [median_pitch(resample(w, sample_rate, rate), rate) for w in windows]
    values = np.log([p for p in pitches if p is not None])
    if len(values) < 4:
        return 1.0, 0.0
    labels = two_groups(values[:, None])
    share = min(np.mean(labels == 0), np.mean(labels == 1))
    if share == 0:
        return 1.0, 0.0
    ratio = math.exp(abs(np.median(values[labels == 0]) - np.median(values[labels == 1])))
    return ratio, float(share)


# --- the checks ------------------------------------------------------------------------------

def load_recording(path: Path, limits: RecordingLimits = RecordingLimits(),
                   speaker_method: str = "auto") -> Recording:
    """Read and check a reference recording (module docstring); raise RecordingError on the
    first problem found. `speaker_method`: "auto" (Resemblyzer when installed, else pitch),
    "resemblyzer", "pitch", or "none" (no several-speakers check: the user vouches for it)."""
    path = Path(path)
    try:
        import soundfile

        seconds = soundfile.info(str(path)).duration  # an hour-long file is refused before it is read
    except (ImportError, RuntimeError, ValueError, TypeError):  # no soundfile, or a file it cannot read
        seconds = 0.0  # read_audio says why below
    if seconds > limits.max_seconds:
        raise RecordingError("too_long", _too_long(str(path), seconds, limits))
    frames, rate = read_audio(path)
    return check_recording(frames, rate, limits, speaker_method, str(path))


def _too_long(label: str, seconds: float, limits: RecordingLimits) -> str:
    return (f"{label} is too long: {seconds:.1f} s (at most {limits.max_seconds:.0f} s; "
            "cut it to a clean minute or two of one speaker)")


def check_recording(frames: np.ndarray, rate: int, limits: RecordingLimits = RecordingLimits(),
                    speaker_method: str = "auto", label: str = "the recording") -> Recording:
    """The checks of `load_recording` on samples already read: float (frames,) or (frames, channels)."""
    if speaker_method not in ("auto", "resemblyzer", "pitch", "none"):
        raise ValueError(f"speaker_method must be auto, resemblyzer, pitch or none, got {speaker_method!r}")
    frames = np.asarray(frames, np.float32)
    if frames.ndim == 1:
        frames = frames[:, None]
    seconds = len(frames) / rate if rate > 0 else 0.0
    if rate < MIN_INPUT_RATE:
        raise RecordingError("unreadable", f"{label}: sample rate {rate} Hz is too low (need {MIN_INPUT_RATE} Hz or more)")
    if len(frames) == 0 or frames.shape[1] == 0:
        raise RecordingError("unreadable", f"{label}: holds no audio")
    if not np.all(np.isfinite(frames)):
        raise RecordingError("unreadable", f"{label}: holds NaN or infinite samples")
    if seconds > limits.max_seconds:
        raise RecordingError("too_long", _too_long(label, seconds, limits))
    clipped = clipped_fraction(frames)
    if clipped > limits.max_clipped_fraction:
        raise RecordingError("clipping", f"{label} is clipped: {100 * clipped:.2f}% of samples are stuck at the peak "
                             f"(at most {100 * limits.max_clipped_fraction:.2f}%); record again with the input level lower")
    mono = frames.mean(axis=1) if frames.shape[1] > 1 else frames[:, 0]
    audio = resample(mono, rate, SAMPLE_RATE)
    activity = voice_activity(audio, SAMPLE_RATE)
    if activity.loud_dbfs < limits.min_level_dbfs:
        raise RecordingError("too_quiet", f"{label} is too quiet: speech at {activity.loud_dbfs:.1f} dBFS "
                             f"(needs {limits.min_level_dbfs:.0f} dBFS or more); record closer to the microphone "
                             "or with the input level higher")
    if activity.snr_db < limits.min_snr_db:
        raise RecordingError("too_noisy", f"{label} is too noisy: estimated signal-to-noise ratio {activity.snr_db:.1f} dB "
                             f"(needs {limits.min_snr_db:.0f} dB or more); record in a quieter room")
    speech_seconds = activity.speech_seconds
    fraction = speech_seconds / seconds
    if fraction < limits.min_speech_fraction:
        raise RecordingError("mostly_silence", f"{label} is mostly silence: {speech_seconds:.1f} s of speech in "
                             f"{seconds:.1f} s ({100 * fraction:.0f}%, needs {100 * limits.min_speech_fraction:.0f}%); "
                             "trim the silence")
    if speech_seconds < limits.min_speech_seconds:
        raise RecordingError("too_short", f"{label} is too short: {speech_seconds:.1f} s of speech (needs "
                             f"{limits.min_speech_seconds:.0f} s or more; 30 s to a minute is best)")
    if speaker_method == "none":
        return Recording(audio, SAMPLE_RATE, speech_seconds, seconds, rate, frames.shape[1], activity.loud_dbfs,
                         activity.snr_db, clipped, "none", float("nan"))
    windows = speech_windows(audio, SAMPLE_RATE, activity)
    split = resemblyzer_split() if speaker_method in ("auto", "resemblyzer") else None
    if speaker_method == "resemblyzer" and split is None:
        raise RecordingError("unreadable", "the speaker check needs Resemblyzer and the train extra: "
                             "pip install 'echoic[train]' and Resemblyzer (see the README)")
    if split is not None:
        method = "resemblyzer"
        distance, share = split(windows, SAMPLE_RATE)
        several = distance > limits.max_speaker_distance
        said = f"their voices differ by {distance:.2f} (1 - cosine; one speaker stays under {limits.max_speaker_distance:.2f})"
    else:
        method = "pitch"
        distance, share = speaker_split_pitch(windows, SAMPLE_RATE)
        several = distance > limits.max_pitch_ratio
        said = f"their pitch differs {distance:.2f}-fold (one speaker stays under {limits.max_pitch_ratio:.2f})"
    if several and share >= limits.min_minority_share:
        raise RecordingError("several_speakers", f"{label} seems to hold several speakers: {100 * share:.0f}% of its "
                             f"speech is another voice; {said}. Use a recording of one person only")
    return Recording(audio, SAMPLE_RATE, speech_seconds, seconds, rate, frames.shape[1], activity.loud_dbfs,
                     activity.snr_db, clipped, method, distance)
