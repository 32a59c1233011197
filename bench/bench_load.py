"""Checkpoint loading: converted safetensors vs the original format, and peak memory while converting.

Cases:
* the embedded DCGAN ``weights.tar`` (14 MB, torch zip): reading it vs reading its converted safetensors, and
  ``load_generator`` cold (read + detect + convert + write) vs warm (the converted file only);
* a StyleGAN2-1024-sized rosinality ``.pt`` (``{"g_ema": state, "latent_avg"}``, config-f shapes, random values,
  ~120 MB) written by this script: ``read_checkpoint`` vs ``load_safetensors``; ``load_generator`` too when
  ``steering.models.stylegan2`` accepts it.

Peak memory is the growth of the peak RSS (``VmHWM``, reset to the current RSS after imports via
``/proc/self/clear_refs``; ``ru_maxrss`` elsewhere), each measurement in a fresh subprocess (tracemalloc does not
see torch's allocations), reported in multiples of the checkpoint's tensor bytes. Fixed one-time costs (lazy imports,
e.g. ~70 MB on the first meta-device op that architectures use to list their keys) are paid before the baseline.
A conversion that holds the checkpoint once and the built model once peaks near 2x; writing the converted file
must add no third copy (a clone-everything write, measured alongside, shows what that would cost).

Run: ``python bench/bench_load.py`` (``--repeats N``, ``--skip-stylegan2``). Prints medians and ratios from one run.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402
from common import interleaved_medians  # noqa: E402

from steering.io import load_safetensors, save_safetensors  # noqa: E402
from steering.sources import load_generator  # noqa: E402
from steering.sources.embedded import embedded_weights_path  # noqa: E402
from steering.sources.readers import read_checkpoint  # noqa: E402

MiB = 1 << 20


# ----- a StyleGAN2 (rosinality) checkpoint of the real size ---------------------------------------------------------
def rosinality_state(size: int = 1024, style_dim: int = 512, n_mlp: int = 8, multiplier: int = 2) -> dict:
    """Random tensors with the keys and shapes of rosinality's ``Generator`` (config-f at ``size``)."""
    gen = torch.Generator().manual_seed(0)
    channels = {4: 512, 8: 512, 16: 512, 32: 512, 64: 256 * multiplier, 128: 128 * multiplier}
    channels |= {256: 64 * multiplier, 512: 32 * multiplier, 1024: 16 * multiplier}
    state: dict[str, torch.Tensor] = {}

    def rand(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=gen)

    for i in range(1, n_mlp + 1):
        state[f"style.{i}.weight"], state[f"style.{i}.bias"] = rand(style_dim, style_dim), rand(style_dim)
    state["input.input"] = rand(1, channels[4], 4, 4)

    def styled_conv(name: str, cin: int, cout: int, upsample: bool) -> None:
        state[f"{name}.conv.weight"] = rand(1, cout, cin, 3, 3)
        state[f"{name}.conv.modulation.weight"] = rand(cin, style_dim)
        state[f"{name}.conv.modulation.bias"] = torch.ones(cin)
        if upsample:
            state[f"{name}.conv.blur.kernel"] = rand(4, 4)
        state[f"{name}.noise.weight"] = torch.zeros(1)
        state[f"{name}.activate.bias"] = torch.zeros(cout)

    def to_rgb(name: str, cin: int, upsample: bool) -> None:
        state[f"{name}.conv.weight"] = rand(1, 3, cin, 1, 1)
        state[f"{name}.conv.modulation.weight"] = rand(cin, style_dim)
        state[f"{name}.conv.modulation.bias"] = torch.ones(cin)
        state[f"{name}.bias"] = torch.zeros(1, 3, 1, 1)
        if upsample:
            state[f"{name}.upsample.kernel"] = rand(4, 4)

    styled_conv("conv1", channels[4], channels[4], upsample=False)
    to_rgb("to_rgb1", channels[4], upsample=False)
    log_size = size.bit_length() - 1
    for layer in range((log_size - 2) * 2 + 1):
        res = (layer + 5) // 2
        state[f"noises.noise_{layer}"] = rand(1, 1, 2**res, 2**res)
    cin = channels[4]
    for i in range(3, log_size + 1):
        cout = channels[2**i]
        styled_conv(f"convs.{(i - 3) * 2}", cin, cout, upsample=True)
        styled_conv(f"convs.{(i - 3) * 2 + 1}", cout, cout, upsample=False)
        to_rgb(f"to_rgbs.{i - 3}", cout, upsample=True)
        cin = cout
    return state


def tensor_bytes(tensors: dict) -> int:
    return sum(t.numel() * t.element_size() for t in tensors.values())


def live_tensor_bytes() -> int:
    """Bytes of every tensor storage still reachable (RSS also counts freed memory the allocator keeps)."""
    import gc
    import warnings

    storages: dict[int, int] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # touching some torch module objects warns about deprecations
        for obj in gc.get_objects():
            if isinstance(obj, torch.Tensor) and not obj.is_meta:
                storage = obj.untyped_storage()
                storages[storage.data_ptr()] = storage.nbytes()
    return sum(storages.values())


# ----- one measurement in a fresh interpreter ------------------------------------------------------------------------
def _status_kib(field: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def _reset_peak() -> int:
    """Reset the peak-RSS mark to the current RSS (Linux ``clear_refs`` 5); the baseline to measure growth from."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # no reset: growth over the old peak
    return (_status_kib("VmHWM") or 0) * 1024


def _peak() -> int:
    hwm = _status_kib("VmHWM")
    return hwm * 1024 if hwm is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def child(case: str, path: str) -> None:
    """Run one operation and print the peak RSS growth (bytes) as JSON; the parent compares runs."""
    own_home = not os.environ.get("BENCH_LOAD_HOME")
    home = os.environ.get("BENCH_LOAD_HOME") or tempfile.mkdtemp(prefix="bench-load-")
    os.environ["GAN_STEERING_HOME"] = home
    try:
        _child_case(case, path, home)
    finally:
        if own_home:
            shutil.rmtree(home, ignore_errors=True)


def _child_case(case: str, path: str, home: str) -> None:
    import gc

    from steering import paths

    # Warm up allocator and lazy imports with a tiny round trip, so the baseline includes them.
    warm = Path(home) / "warm.safetensors"
    save_safetensors({"x": torch.zeros(8)}, {"format": "warm"}, warm)
    load_safetensors(warm)
    with torch.device("meta"):  # first meta-device op imports torch._dynamo, sympy, … (~70 MB, once per process)
        torch.randn(2, 2)
    if case == "load-converted":  # the converted file must exist first; build it in another process
        env = {**os.environ, "BENCH_LOAD_HOME": home}  # the child converts into this home and leaves it
        subprocess.run([sys.executable, __file__, "--child", "convert-only", path], check=True, env=env)
    gc.collect()
    live_before = live_tensor_bytes()
    base = _reset_peak()
    if case == "read":
        checkpoint = read_checkpoint(path)
        result = {"tensor_bytes": tensor_bytes(checkpoint.tensors)}
    elif case == "read+write":  # what conversion does with a checkpoint: read it, write the safetensors copy
        checkpoint = read_checkpoint(path)
        save_safetensors(checkpoint.tensors, {"format": "bench"}, Path(home) / "copy.safetensors")
        result = {"tensor_bytes": tensor_bytes(checkpoint.tensors)}
    elif case == "read+write-cloned":  # the same with a clone of every tensor before writing (the old behaviour)
        from safetensors.torch import save_file

        checkpoint = read_checkpoint(path)
        save_file({k: v.contiguous().clone() for k, v in checkpoint.tensors.items()}, str(Path(home) / "c.st"))
        result = {"tensor_bytes": tensor_bytes(checkpoint.tensors)}
    elif case in ("convert", "convert-only"):
        generator = load_generator(path)
        result = {"tensor_bytes": tensor_bytes(generator.state_dict())}
    elif case == "load-converted":
        before = sorted(paths.models_dir().glob("*.safetensors"))
        generator = load_generator(path)
        assert sorted(paths.models_dir().glob("*.safetensors")) == before, "expected a warm load"
        result = {"tensor_bytes": tensor_bytes(generator.state_dict())}
    else:
        raise SystemExit(f"unknown case {case}")
    result["growth"] = _peak() - base
    checkpoint = None  # what the caller would drop; the generator (if any) stays, as it would in use
    gc.collect()
    result["retained"] = (_status_kib("VmRSS") or 0) * 1024 - base
    result["live"] = live_tensor_bytes() - live_before
    print(json.dumps(result))


def measure(case: str, path: Path) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", case, str(path)], capture_output=True, text=True, check=False
    )
    if out.returncode != 0:
        return {"error": out.stderr.strip().splitlines()[-1] if out.stderr.strip() else f"exit {out.returncode}"}
    return json.loads(out.stdout.strip().splitlines()[-1])


# ----- the report ----------------------------------------------------------------------------------------------------
def converted_file(path: Path, home: Path) -> Path | None:
    """Convert ``path`` once into ``home``; the converted file, or ``None`` when no architecture accepts it."""
    os.environ["GAN_STEERING_HOME"] = str(home)
    try:
        load_generator(str(path))
    except Exception as exc:  # reported, not fatal: e.g. the stylegan2 module is not there yet
        print(f"  load_generator({path.name}) failed: {type(exc).__name__}: {exc}".splitlines()[0][:200])
        return None
    return next(iter(sorted((home / "models").glob("*.safetensors"))))


def time_case(name: str, original: Path, repeats: int, tmp: Path) -> None:
    size = original.stat().st_size
    print(f"\n{name}: {original.name}, {size / MiB:.1f} MiB")
    converted = converted_file(original, tmp / f"{name}-home")
    cases = {"read original (read_checkpoint)": lambda: read_checkpoint(original)}
    if converted is None:
        scratch = tmp / f"{name}.safetensors"
        save_safetensors(read_checkpoint(original).tensors, {"format": "bench"}, scratch)
        cases["read safetensors (load_safetensors)"] = lambda: load_safetensors(scratch)
    else:
        cases["read converted (load_safetensors)"] = lambda: load_safetensors(converted)

        def cold() -> None:
            os.environ["GAN_STEERING_HOME"] = tempfile.mkdtemp(dir=tmp)
            load_generator(str(original))

        def warm() -> None:
            os.environ["GAN_STEERING_HOME"] = str(tmp / f"{name}-home")
            load_generator(str(original))

        cases["load_generator cold (convert + write)"] = cold
        cases["load_generator warm (converted file)"] = warm
    medians = interleaved_medians(cases, repeats=repeats, warmup=1)
    for label, seconds in medians.items():
        print(f"  {label:<40} {seconds * 1000:9.1f} ms")
    names = list(medians)
    print(f"  ratio original / converted read: {medians[names[0]] / medians[names[1]]:.2f}x")
    if converted is not None:
        print(f"  ratio cold / warm load_generator: {medians[names[2]] / medians[names[3]]:.2f}x")

    nbytes = tensor_bytes(read_checkpoint(original).tensors)
    print(f"  memory (a fresh process each; x = multiples of the {nbytes / MiB:.1f} MiB of checkpoint tensors):")
    memory_cases = ["read", "read+write", "read+write-cloned"]
    if converted is not None:
        memory_cases += ["convert", "load-converted"]
    for case in memory_cases:
        result = measure(case, original)
        if "error" in result:
            print(f"    {case:<20} failed: {result['error'][:150]}")
            continue
        nbytes = result["tensor_bytes"]
        print(
            f"    {case:<20} peak +{result['growth'] / MiB:7.1f} MiB = {result['growth'] / nbytes:4.2f}x, "
            f"RSS after +{result['retained'] / MiB:6.1f} MiB, live tensors after {result['live'] / nbytes:4.2f}x"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--skip-stylegan2", action="store_true")
    parser.add_argument("--child", nargs=2, metavar=("CASE", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}")
    with tempfile.TemporaryDirectory(prefix="bench-load-") as tmp_name:
        tmp = Path(tmp_name)
        time_case("dcgan", embedded_weights_path(), args.repeats, tmp)
        if not args.skip_stylegan2:
            path = tmp / "stylegan2-1024-config-f.pt"
            torch.save({"g_ema": rosinality_state(), "latent_avg": torch.zeros(512)}, path)
            available = importlib.util.find_spec("steering.models.stylegan2") is not None
            print(f"\n(steering.models.stylegan2 {'present' if available else 'not present yet'})")
            time_case("stylegan2", path, max(3, args.repeats // 2), tmp)


if __name__ == "__main__":
    main()
