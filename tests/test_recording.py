"""Reference recordings for cloning (engine/cloning/recording.py): every refusal on a crafted
recording made from real speech (the engine's own Kokoro renders, made here at test time: nothing
is committed), and the reading and resampling underneath."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from engine.cloning.recording import (RecordingLimits, check_recording, load_recording, read_audio, resample,
                                      voice_activity)
from engine.errors import RecordingError, VoiceError

soundfile = pytest.importorskip("soundfile")

RATE = 24000
TEXT_A = ("The old lighthouse keeper climbed the spiral stairs every evening, counting each step aloud. "
          "From the top he could see the fishing boats returning, their lanterns swaying in the dark. "
          "He wrote the weather in a small notebook, the wind, the clouds, and the colour of the sea. "
          "Visitors sometimes asked whether he felt lonely, and he always answered with a smile. "
          "The gulls, the tides and the distant bells were all the company he needed.")
TEXT_B = ("Our train leaves the station at half past nine, so please bring your tickets and a warm coat. "
          "The journey through the mountains takes about four hours, with one stop for lunch.")


# --- the resampler and the reader (no model) ------------------------------------------------

@pytest.mark.parametrize("source,target,freq,tolerance", [
    (44100, 24000, 1000.0, 1e-4), (48000, 24000, 3000.0, 1e-4), (8000, 24000, 440.0, 1e-3),
    (22050, 24000, 5000.0, 1e-3), (44100, 24000, 10000.0, 2e-2), (24000, 16000, 2000.0, 1e-4)])
def test_resampling_matches_the_same_sine_at_the_new_rate(source, target, freq, tolerance):
    x = np.sin(2 * np.pi * freq * np.arange(2 * source) / source).astype(np.float32)
    y = resample(x, source, target)
    assert len(y) == 2 * target
    expected = np.sin(2 * np.pi * freq * np.arange(len(y)) / target)
    assert np.abs(y - expected)[300:-300].max() < tolerance


def test_resampling_down_removes_what_the_new_rate_cannot_hold():
    x = np.sin(2 * np.pi * 15000 * np.arange(48000) / 48000).astype(np.float32)  # above 12 kHz
    assert np.sqrt(np.mean(resample(x, 48000, 24000)[300:-300] ** 2)) < 1e-3  # -57 dB of 0.707


def test_wav_without_soundfile_reads_the_same_and_flac_names_the_extra(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    pcm = (rng.normal(0, 3000, (4800, 2))).astype("<i2")
    soundfile.write(tmp_path / "a.wav", pcm, 16000, subtype="PCM_16")
    soundfile.write(tmp_path / "a.flac", pcm, 16000)
    with_sf, rate = read_audio(tmp_path / "a.wav")
    monkeypatch.setitem(sys.modules, "soundfile", None)
    without, rate2 = read_audio(tmp_path / "a.wav")
    assert (rate, rate2) == (16000, 16000) and without.shape == (4800, 2) and np.array_equal(with_sf, without)
    with pytest.raises(RecordingError, match=r"not a PCM WAV file .*pip install 'echoic\[train\]'") as caught:
        read_audio(tmp_path / "a.flac")
    assert caught.value.code == "unreadable" and isinstance(caught.value, VoiceError)


def test_unreadable_files_are_refused_with_why(tmp_path):
    (tmp_path / "notes.wav").write_text("these are my notes, not audio")
    soundfile.write(tmp_path / "empty.wav", np.zeros((0, 1), np.float32), 24000)
    soundfile.write(tmp_path / "low.wav", np.zeros(40000, np.float32), 4000)
    for name, message in [("missing.wav", "no such file"), ("notes.wav", "not an audio file Echoic can read"),
                          ("empty.wav", "holds no audio"), ("low.wav", r"sample rate 4000 Hz is too low")]:
        with pytest.raises(RecordingError, match=message) as caught:
            load_recording(tmp_path / name)
        assert caught.value.code == "unreadable"
    with pytest.raises(RecordingError, match="not a file"):
        load_recording(tmp_path)


# --- real speech ------------------------------------------------------------------------------

_RENDERED: dict = {}


def render_speech(engine) -> tuple[np.ndarray, np.ndarray]:
    """(a, b): af_heart reading TEXT_A (25 s), am_adam reading TEXT_B; float32 at 24 kHz. Made once
    per test session (tests/test_voice_create.py uses them too)."""
    from dataclasses import replace

    from engine.api import SpeechRequest
    from engine.synth import Engine

    if id(engine) not in _RENDERED:
        # Whole renders, as when these figures were measured (docs/cloning.md): a pad cut trims
        # each segment's trailing pad and shifts the lengths the messages quote.
        whole = Engine(replace(engine.config, streaming=replace(engine.config.streaming, cut_pads=False)),
                       runtime=engine.runtime)
        a, _ = whole.synthesize(SpeechRequest(TEXT_A, voice="af_heart", locale="en-US"))
        b, _ = whole.synthesize(SpeechRequest(TEXT_B, voice="am_adam", locale="en-US"))
        _RENDERED[id(engine)] = (a.astype(np.float32) / 32768.0, b.astype(np.float32) / 32768.0)
    return _RENDERED[id(engine)]


@pytest.fixture(scope="module")
def speech(engine):
    return render_speech(engine)


def written(tmp_path, name, audio, rate=RATE, **options):
    path = tmp_path / name
    soundfile.write(path, audio, rate, **options)
    return path


def with_noise(audio, snr_db, seed=0):
    """White noise at `snr_db` below the speech's RMS (speech: samples above 1% of full scale)."""
    level = np.sqrt(np.mean(audio[np.abs(audio) > 0.01] ** 2))
    noise = np.random.default_rng(seed).normal(0, 1, len(audio)).astype(np.float32)
    return (audio + noise * level / 10 ** (snr_db / 20)).astype(np.float32)


@pytest.mark.slow
def test_a_clean_recording_passes_at_any_rate_and_channel_count(speech, tmp_path):
    a, _ = speech
    plain = load_recording(written(tmp_path, "a.wav", a, subtype="PCM_16"), speaker_method="pitch")
    assert plain.sample_rate == RATE and plain.audio.dtype == np.float32 and len(plain.audio) == len(a)
    assert 0.7 * len(a) / RATE < plain.speech_seconds < 0.95 * len(a) / RATE  # 19.9 of 25.0 s measured
    assert plain.level_dbfs > -25 and plain.snr_db > 40 and plain.clipped_fraction == 0
    stereo = np.stack([resample(a, RATE, 44100)] * 2, axis=1) * [1.0, 0.5]
    other = load_recording(written(tmp_path, "a.flac", stereo.astype(np.float32), 44100), speaker_method="pitch")
    assert (other.source_rate, other.channels, other.sample_rate) == (44100, 2, RATE)
    assert abs(len(other.audio) - len(a)) <= 1 and abs(other.speech_seconds - plain.speech_seconds) < 0.3
    n = min(len(a), len(other.audio))
    # The two channels' mean, back at 24 kHz: exact below 10 kHz (the round trip cuts above 11.4 kHz).
    error, wanted = np.fft.rfft(other.audio[:n] - 0.75 * a[:n]), np.fft.rfft(0.75 * a[:n])
    band = np.fft.rfftfreq(n, 1 / RATE) < 10000
    assert np.sqrt(np.sum(np.abs(error[band]) ** 2) / np.sum(np.abs(wanted[band]) ** 2)) < 1e-3  # 5e-5 measured


@pytest.mark.slow
@pytest.mark.parametrize("case,code,message", [
    ("too_short", "too_short", r"too short: [5-9]\.\d s of speech \(needs 10 s"),
    ("too_long", "too_long", r"too long: 310\.0 s \(at most 300 s"),
    ("clipping", "clipping", r"clipped: 0\.[3-9]\d% of samples are stuck at the peak \(at most 0\.10%\)"),
    ("too_quiet", "too_quiet", r"too quiet: speech at -5\d\.\d dBFS \(needs -40 dBFS or more\)"),
    ("too_noisy", "too_noisy", r"too noisy: estimated signal-to-noise ratio 1[0-6]\.\d dB \(needs 20 dB or more\)"),
    ("mostly_silence", "mostly_silence", r"mostly silence: [89]\.\d s of speech in 52\.0 s \(1\d%, needs 30%\)"),
])
def test_each_problem_gets_its_own_message_with_the_measured_value(speech, tmp_path, case, code, message):
    a, _ = speech
    rng = np.random.default_rng(1)
    crafted = {
        "too_short": lambda: a[:9 * RATE],
        "too_long": lambda: np.tile(a, 13)[:310 * RATE],
        "clipping": lambda: np.clip(a * 4, -1, 1),  # the render peaks near 0.6
        "too_quiet": lambda: a * 0.01,
        "too_noisy": lambda: with_noise(a, 10),
        "mostly_silence": lambda: np.concatenate([a[:12 * RATE], rng.normal(0, 1e-4, 40 * RATE)]).astype(np.float32),
    }[case]()
    with pytest.raises(RecordingError, match=message) as caught:
        load_recording(written(tmp_path, f"{case}.wav", crafted, subtype="FLOAT"), speaker_method="pitch")
    assert caught.value.code == code


@pytest.mark.slow
def test_the_thresholds_sit_between_what_passes_and_what_fails(speech):
    """The same speech a little either side of each threshold: the check moves with the measure."""
    a, _ = speech
    assert check_recording(with_noise(a, 20), RATE, speaker_method="pitch").snr_db > 20  # 23.4 dB measured
    with pytest.raises(RecordingError, match="too noisy"):
        check_recording(with_noise(a, 15), RATE, speaker_method="pitch")  # 18.5 dB measured
    assert check_recording(a * 0.1, RATE, speaker_method="pitch").level_dbfs > -40  # -37 dBFS
    with pytest.raises(RecordingError, match="too quiet"):
        check_recording(a * 0.05, RATE, speaker_method="pitch")
    loose = RecordingLimits(min_speech_seconds=5.0)
    assert check_recording(a[:9 * RATE], RATE, loose, speaker_method="pitch").speech_seconds > 5


def mix(a, b):
    """Two speakers taking turns: a 6 s, b 5 s, a 6 s, b 5 s, then the rest of a."""
    s = RATE
    return np.concatenate([a[:6 * s], b[:5 * s], a[6 * s:12 * s], b[5 * s:10 * s], a[12 * s:]])


@pytest.mark.slow
def test_two_speakers_are_refused_by_pitch(speech):
    a, b = speech
    one = check_recording(a, RATE, speaker_method="pitch")
    assert one.speaker_method == "pitch" and one.speaker_distance < 1.2  # 1.09 measured
    with pytest.raises(RecordingError, match=r"several speakers: \d\d% of its speech is another voice; "
                                             r"their pitch differs 1\.[5-9]\d-fold") as caught:
        check_recording(mix(a, b), RATE, speaker_method="pitch")
    assert caught.value.code == "several_speakers"
    vouched = check_recording(mix(a, b), RATE, speaker_method="none")  # `echoic voice create --skip-speaker-check`
    assert vouched.speaker_method == "none" and vouched.speech_seconds > 20


@pytest.mark.slow
def test_two_speakers_are_refused_by_resemblyzer(speech):
    pytest.importorskip("resemblyzer")
    a, b = speech
    one = check_recording(a, RATE, speaker_method="resemblyzer")
    assert one.speaker_method == "resemblyzer" and one.speaker_distance < 0.15  # 0.08 measured
    with pytest.raises(RecordingError, match=r"several speakers: .* their voices differ by 0\.[2-9]\d") as caught:
        check_recording(mix(a, b), RATE, speaker_method="resemblyzer")
    assert caught.value.code == "several_speakers"


@pytest.mark.slow
def test_the_activity_detector_counts_speech_not_silence(speech):
    a, _ = speech
    gap = np.zeros(5 * RATE, np.float32)
    base = voice_activity(a, RATE).speech_seconds
    padded = voice_activity(np.concatenate([gap, a, gap]), RATE).speech_seconds
    assert abs(padded - base) < 0.1
    noisy = voice_activity(with_noise(np.concatenate([gap, a, gap]), 25), RATE)
    assert abs(noisy.speech_seconds - base) < 1.0 and noisy.snr_db > 25
