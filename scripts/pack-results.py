"""Pack what a device command finished into the device tool's $OUT folder, within what a call may
bring back (at most 8 files, 16 MiB each, 64 MiB together):

* ``paper.tar``: the results folder (executed notebooks, JSON, logs, benchmarks, the folders of
  jobs stopped midway with their partial notebooks);
* ``store-meta.tar``: the metadata (JSON) of every finished store entry and checkpoint (a minimum's
  epochs, training loss and accuracy and wall time; a center's objective history; a checkpoint's
  epoch), and ``MANIFEST.txt``: which entries' tensors came back and which did not, and why;
* ``store-1.tar`` …: the tensors of finished entries, smallest first, as many as fit (an FNN
  minimum is 2 MiB; a VGG16 or ResNet minimum, 45-85 MiB, never fits a 16 MiB file: it is listed
  in the manifest, and its metadata comes back).

Checkpoints' tensors and the decoded datasets stay behind. Usage:
    python3 scripts/pack-results.py RESULTS_PARENT STORE OUT
(RESULTS_PARENT holds ``paper/``). Needs the standard library only.
"""
from __future__ import annotations

import io
import sys
import tarfile
from pathlib import Path

MiB = 1 << 20
FILE_MAX = 15 * MiB  # per file (16 MiB allowed; a margin for tar headers)
TOTAL_MAX = 60 * MiB  # all files (64 MiB allowed)
FILES_MAX = 8


def tar(path: Path, members: list[tuple[Path, str]], extra: dict[str, str] | None = None) -> int:
    with tarfile.open(path, "w") as t:
        for f, name in members:
            t.add(f, arcname=name)
        for name, text in (extra or {}).items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return path.stat().st_size


def pack(results_parent: Path, store: Path, out: Path) -> list[str]:
    """Write the tars into ``out``; returns the manifest's lines."""
    out.mkdir(parents=True, exist_ok=True)
    results = [(f, str(f.relative_to(results_parent))) for f in sorted(results_parent.rglob("*")) if f.is_file()]
    used = tar(out / "paper.tar", results)
    if used > FILE_MAX:
        print(f"pack-results: paper.tar is {used / MiB:.1f} MiB, over the {FILE_MAX // MiB} MiB a file may be",
              file=sys.stderr)
    entries = sorted(f for f in store.rglob("*.json") if "datasets" not in f.parts) if store.exists() else []
    tensors = sorted((f.with_suffix(".safetensors") for f in entries if "checkpoints" not in f.parts
                      and f.with_suffix(".safetensors").exists()), key=lambda f: (f.stat().st_size, str(f)))
    manifest, batches, cur, size = [], [], [], 0
    budget = TOTAL_MAX - used - len(entries) * 4096 - MiB  # what paper.tar and store-meta.tar leave
    for f in tensors:
        n, name = f.stat().st_size + 1024, str(f.relative_to(store))
        new_file = size + n > FILE_MAX
        no_file = new_file and len(batches) + 2 > FILES_MAX - 2  # paper.tar, store-meta.tar and the batches
        why = ("larger than a file may be" if n > FILE_MAX else "no room left in this call's 64 MiB" if n > budget
               else f"no file left of the {FILES_MAX} a call brings back" if no_file else None)
        if why:
            manifest.append(f"left behind: {name} ({f.stat().st_size / MiB:.1f} MiB, {why})")
            continue
        if new_file:
            batches.append(cur)
            cur, size = [], 0
        cur.append(f)
        size += n
        budget -= n
        manifest.append(f"brought back: {name} ({f.stat().st_size / MiB:.2f} MiB)")
    if cur:
        batches.append(cur)
    for i, batch in enumerate(batches, 1):
        tar(out / f"store-{i}.tar", [(f, str(f.relative_to(store))) for f in batch])
    if entries:
        tar(out / "store-meta.tar", [(f, str(f.relative_to(store))) for f in entries],
            {"MANIFEST.txt": "\n".join(manifest) + "\n"})
    return manifest


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__.split("Usage:")[1].strip().splitlines()[0].strip(), file=sys.stderr)
        return 2
    for line in pack(*(Path(a) for a in argv)):
        print(f"pack-results: {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
