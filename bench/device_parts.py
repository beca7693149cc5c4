"""Cut the ``onnxruntime-gpu`` wheel into parts that a lent GPU machine can be sent, one a call.

    python bench/device_parts.py [--version 1.31.1] [--out .device]

The device machine (README: "The worker on a GPU") has CUDA 13's libraries and a CPU
``onnxruntime``, reaches no package index, and takes at most 64 MiB a call: the working tree
(every tracked file) plus the paths a call carries. The ``onnxruntime-gpu`` wheel for
Python 3.12 is ~256 MB. This downloads it here and cuts it into ``OUT/part-NN/`` folders, each
small enough to travel beside the working tree; a warm machine keeps what earlier calls
carried, so the parts add up there. Prints the calls to make, the last of which joins the
parts, installs the wheel and runs ``bench/gpu_network.py`` (its inputs made first by
``python bench/gpu_network.py --make-inputs OUT/inputs``).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CALL_LIMIT = 64 << 20  # bytes a device call may send, working tree included
MARGIN = 4 << 20  # for files that change before the calls are made
PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64")


def tree_bytes() -> int:
    """Bytes of what every device call sends: tracked files and untracked, unignored ones."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    return sum((ROOT / name.decode()).stat().st_size for name in listed if name)


def download(version: str | None, folder: Path) -> Path:
    """The ``onnxruntime-gpu`` wheel for CPython 3.12 on x86-64 Linux, in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    wanted = "onnxruntime-gpu" + (f"=={version}" if version else "")
    platforms = [arg for p in PLATFORMS for arg in ("--platform", p)]
    pip = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:"]
    target = ["--python-version", "3.12", "--implementation", "cp", *platforms]
    subprocess.run([*pip, *target, "-d", str(folder), wanted], check=True)
    wheels = sorted(folder.glob("onnxruntime_gpu-*.whl"))
    if not wheels:
        raise SystemExit(f"no onnxruntime-gpu wheel in {folder}")
    return wheels[-1]


def cut(wheel: Path, out: Path, part_bytes: int) -> list[Path]:
    """``wheel`` in ``out/part-NN/`` folders of at most ``part_bytes`` each."""
    data = wheel.read_bytes()
    parts = []
    for k, start in enumerate(range(0, len(data), part_bytes), start=1):
        folder = out / f"part-{k:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{wheel.name}.{k:02d}").write_bytes(data[start : start + part_bytes])
        parts.append(folder)
    return parts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--version", default=None, help="onnxruntime-gpu version (default: newest)")
    parser.add_argument("--out", type=Path, default=ROOT / ".device")
    args = parser.parse_args()
    inputs = args.out / "inputs"
    if not any(inputs.glob("*.npz")):
        parser.error(f"no inputs in {inputs}: run bench/gpu_network.py --make-inputs {inputs}")
    carried_inputs = sum(p.stat().st_size for p in inputs.glob("*.npz"))
    room = CALL_LIMIT - tree_bytes() - carried_inputs - MARGIN
    if room < 8 << 20:
        raise SystemExit(f"only {room >> 20} MiB a call beside the working tree: too little")
    wheel = download(args.version, args.out / "wheel")
    parts = cut(wheel, args.out, room)
    relative = [p.relative_to(ROOT) for p in parts]
    print(
        f"{wheel.name}: {wheel.stat().st_size >> 20} MiB in {len(parts)} parts of <= "
        f"{room >> 20} MiB; device calls, each within 30 s of the last (the machine stays warm):"
    )
    for part in relative[:-1]:
        print(f'  run(command="ls -la {part}", carry=["{part}"])')
    final = (
        f"cat .device/part-*/{wheel.name}.* > /tmp/{wheel.name} && python3 -m pip install -q "
        f"--no-index --no-deps --target /tmp/site /tmp/{wheel.name} && PYTHONUNBUFFERED=1 "
        "PYTHONPATH=/tmp/site python3 bench/gpu_network.py --inputs .device/inputs "
        "--out $OUT/gpu_network.json"
    )
    print(f'  run(command="{final}", carry=["{relative[-1]}", "{inputs.relative_to(ROOT)}"],')
    print("      timeout_s=480)")


if __name__ == "__main__":
    main()
