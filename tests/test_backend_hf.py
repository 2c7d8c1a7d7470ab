"""The transformers backend on the real packaged 0.5B model (installed by `make test` setup)."""

from __future__ import annotations

import pytest

from simulator.callers.base import HistoryLine, Intent
from simulator.errors import ModelError

pytestmark = pytest.mark.model

PERSONA = {"name": "张先生", "surname": "张", "company": "星海宽带", "channel": "phone",
           "background": "宽带三天断了两次，在家办公很着急", "goal": "让客服尽快派人修好宽带",
           "facts": {"account": "87654321"}}
ASK = Intent("answer", "我的宽带账号是87654321。", "客服问了你的宽带账号，告诉他", 5, {"宽带账号": "87654321"})
OPEN = Intent("open", "喂，你好，我家宽带又断了。", "说出你打电话的原因", 6)
HIST = [HistoryLine("agent", "您好，星海宽带，请问有什么可以帮您？")]


@pytest.fixture(scope="module")
def backend():
    from simulator.callers.hf import TransformersBackend
    return TransformersBackend("0.5b", seed=11)


def test_voices_a_line_in_pieces(backend):
    pieces = list(backend.voice(PERSONA, OPEN, HIST))
    assert pieces and all(isinstance(p, str) for p in pieces)
    text = "".join(pieces)
    assert text.strip() and "\n" not in text and "客服：" not in text
    assert len(backend.tok(text).input_ids) <= backend.max_new_tokens + 1


def test_cached_prefix_gives_the_same_line_as_a_full_prefill():
    """The KV cache of the persona prefix must not change what the model says (greedy decoding)."""
    from simulator.callers.hf import TransformersBackend
    cached = TransformersBackend("0.5b", temperature=0)
    full = TransformersBackend("0.5b", temperature=0, cache_prefix=False)
    a1 = "".join(cached.voice(PERSONA, ASK, HIST))
    a2 = "".join(cached.voice(PERSONA, ASK, HIST))      # second turn reuses the cached prefix
    b = "".join(full.voice(PERSONA, ASK, HIST))
    assert cached._split_prompt(PERSONA, ASK)[0] in cached._prefixes and not full._prefixes
    assert a1 == a2 == b and a1


def test_seed_makes_sampling_repeatable():
    from simulator.callers.hf import TransformersBackend
    one = "".join(TransformersBackend("0.5b", seed=5).voice(PERSONA, OPEN, HIST))
    two = "".join(TransformersBackend("0.5b", seed=5).voice(PERSONA, OPEN, HIST))
    assert one == two


def test_guarded_real_line(backend):
    from simulator.callers.guard import guarded_voice
    g = guarded_voice(backend, PERSONA, ASK, HIST, timeout=60, first_token_timeout=60).resolve()
    assert g.backend in ("transformers", "fallback") and g.text
    if g.backend == "transformers":
        assert g.reject_reason is None and g.first_token_s <= g.total_s
    else:
        assert g.text == ASK.line and g.reject_reason


def test_with_a_shipped_persona(backend):
    from simulator.personas import load_all
    persona = load_all()[0]
    text = "".join(backend.voice(persona, OPEN, HIST))
    assert text.strip()


def test_get_backend_builds_it():
    from simulator.callers import get_backend
    b = get_backend("transformers", model="0.5b", seed=1)
    assert b.name == "transformers" and b.device in ("cpu", "cuda")


def test_bad_weights_dir(tmp_path):
    from simulator.callers.hf import TransformersBackend
    with pytest.raises(ModelError, match="config.json"):
        TransformersBackend(str(tmp_path))
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(ModelError, match="cannot load caller model"):
        TransformersBackend(str(tmp_path))


def test_prepare_fills_the_prefix_cache_shared_by_all_calls():
    from simulator.callers.hf import TransformersBackend
    b = TransformersBackend("0.5b", seed=2)
    persona = dict(PERSONA, name="刘女士", surname="刘")
    prefix = b._split_prompt(persona, ASK)[0]
    assert prefix not in b._prefixes
    b.prepare(persona)
    cached = b._prefixes[prefix]
    "".join(b.voice(persona, ASK, HIST))
    assert b._prefixes[prefix] is cached          # the turn reused the prepared prefix
    other = TransformersBackend("0.5b", seed=3)   # the next call's backend: same model, same cache
    assert other._prefixes[prefix] is cached


def test_llamacpp_backend_on_the_same_gguf():
    """Optional backend (bench extra): the packaged GGUF through llama.cpp, greedy is repeatable."""
    pytest.importorskip("llama_cpp")
    from simulator.callers.guard import guarded_voice
    from simulator.callers.llamacpp import LlamaCppBackend
    b = LlamaCppBackend("0.5b", temperature=0, seed=1)
    one = "".join(b.voice(PERSONA, ASK, HIST))
    assert one and "\n" not in one and one == "".join(b.voice(PERSONA, ASK, HIST))
    g = guarded_voice(b, PERSONA, ASK, HIST, timeout=60, first_token_timeout=60).resolve()
    assert g.backend in ("llamacpp", "fallback") and g.text
    with pytest.raises(ModelError, match="gguf"):
        LlamaCppBackend("/nonexistent/model.bin")
