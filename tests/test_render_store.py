"""The render cache on disk (engine/render_store.py): a repeated word survives a restart, bit for
bit, without a model call; a changed model, voice or rate never reads an old render; a broken
file is a miss and goes; the folder stays under its bound."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from engine.api import SpeechRequest
from engine.config import EngineConfig
from engine.render_store import RenderStore
from engine.runtime import Render
from engine.synth import Engine


def _render(n: int, seed: int = 0) -> Render:
    audio = np.random.default_rng(seed).standard_normal(n).astype(np.float32)
    return Render(audio, np.array([3, n // 600 - 6, 3], dtype=np.int64))


def test_a_render_reads_back_exactly_and_only_under_its_key_and_model(tmp_path):
    store = RenderStore(tmp_path, 10 * 2**20, model_id="model-a")
    key = ((1, 2, 3), "digest", 1.0)
    render = _render(12000)
    store.put(key, render)
    again = RenderStore(tmp_path, 10 * 2**20, model_id="model-a").get(key)  # a new process
    assert again is not None
    np.testing.assert_array_equal(again.audio, render.audio)
    np.testing.assert_array_equal(again.durations, render.durations)
    assert RenderStore(tmp_path, 10 * 2**20, model_id="model-b").get(key) is None  # another model
    for other in (((1, 2, 4), "digest", 1.0), ((1, 2, 3), "other voice", 1.0), ((1, 2, 3), "digest", 1.25)):
        assert store.get(other) is None
    assert store.hits == 0 and store.misses == 3


@pytest.mark.parametrize("junk", [b"", b"not a zip", "truncated"])
def test_a_broken_file_is_a_miss_and_is_removed(tmp_path, junk):
    store = RenderStore(tmp_path, 10 * 2**20, model_id="m")
    key = ((5,), "d", 1.0)
    store.put(key, _render(6000))
    (path,) = tmp_path.glob("*.npz")
    path.write_bytes(path.read_bytes()[:300] if junk == "truncated" else junk)
    fresh = RenderStore(tmp_path, 10 * 2**20, model_id="m")
    assert fresh.get(key) is None and not path.exists() and fresh.bytes == 0
    fresh.put(key, _render(6000))
    assert fresh.get(key) is not None  # written again, read again


def test_the_folder_stays_under_its_bound_dropping_the_least_recently_used(tmp_path):
    store = RenderStore(tmp_path, 10 * 2**20, model_id="m")
    store.put(("first",), _render(24000, 1))
    size = store.bytes
    bounded = RenderStore(tmp_path, int(3.5 * size), model_id="m")
    bounded.put(("second",), _render(24000, 2))
    bounded.put(("third",), _render(24000, 3))
    assert bounded.get(("first",)) is not None  # used: now the most recent
    bounded.put(("fourth",), _render(24000, 4))  # over the bound: "second", the least recent, goes
    assert bounded.bytes <= int(3.5 * size) and len(list(tmp_path.glob("*.npz"))) == 3
    assert bounded.get(("second",)) is None
    assert all(bounded.get((k,)) is not None for k in ("first", "third", "fourth"))
    assert RenderStore(tmp_path, 10, model_id="m").put(("huge",), _render(24000)) is None  # larger than the bound: not kept
    assert len(list(tmp_path.glob("*.npz"))) == 3


def test_an_unwritable_folder_loses_only_the_copy(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    store = RenderStore(blocker / "renders", 2**20, model_id="m")
    store.put(("k",), _render(6000))  # logged, not raised
    assert store.get(("k",)) is None


class _Counting:
    """The real runtime, counting model calls."""

    def __init__(self, real):
        self.real, self.calls = real, 0

    def __getattr__(self, name):
        return getattr(self.real, name)

    def plan(self, *args, **kwargs):
        self.calls += 1
        return self.real.plan(*args, **kwargs)

    def render_planned(self, *args, **kwargs):
        self.calls += 1
        return self.real.render_planned(*args, **kwargs)


def test_a_word_spoken_before_a_restart_needs_no_model_call_after_it(engine, tmp_path):
    config = replace(engine.config, disk_cache_dir=tmp_path, disk_cache_megabytes=64)
    before = Engine(config, runtime=engine.runtime)
    audio, _ = before.synthesize(SpeechRequest("Desktop", voice="af_heart"))
    assert before.statistics()["cache"]["disk"]["bytes"] > 0
    counting = _Counting(engine.runtime)
    after = Engine(config, runtime=counting)  # a restart: an empty memory cache, the same folder
    again, _ = after.synthesize(SpeechRequest("Desktop", voice="af_heart"))
    np.testing.assert_array_equal(again, audio)
    assert counting.calls == 0 and after.statistics()["cache"]["disk"]["hits"] == 1
    other, _ = after.synthesize(SpeechRequest("Desktop", voice="af_heart", rate=1.5))
    assert counting.calls > 0 and len(other) < len(audio)  # another rate is another render
    off = Engine(replace(config, disk_cache_megabytes=0), runtime=counting)
    assert off.statistics()["cache"]["disk"] is None


def test_engine_config_refuses_a_negative_disk_bound():
    with pytest.raises(ValueError, match="disk_cache_megabytes"):
        EngineConfig(disk_cache_megabytes=-1)


def test_measure_render_cache_prints_memory_disk_and_uncached(engine, capsys):
    from engine.bench_latency import measure_render_cache

    medians = measure_render_cache(keys="b", rounds=1, engine=engine)
    assert set(medians) == {"memory", "disk", "uncached"}
    assert medians["memory"] < medians["uncached"] and medians["disk"] < medians["uncached"] / 5
    assert "spelled key, first audio in-process" in capsys.readouterr().out


def test_a_changed_adapter_is_another_model():
    from engine.render_store import render_store_model_id

    class Adapters:  # an AdapterSet's shape: tags, and each adapter's weights
        def __init__(self, scale):
            self.weights = {"decoder.fc": (np.ones((4, 2), np.float32), scale * np.ones((2, 4), np.float32))}

        def __len__(self):
            return 1

        def __iter__(self):
            return iter(["fr-FR"])

        def get(self, tag):
            return self

    base = render_store_model_id()
    one, again, retrained = (render_store_model_id(Adapters(s)) for s in (1.0, 1.0, 2.0))
    assert one == again and one.startswith(base) and len({base, one, retrained}) == 3
