#!/usr/bin/env bash
# Prepare what a GPU machine without internet needs, in git-ignored folders (< 64 MiB together):
#   .whl/        papermill + ipykernel and their dependencies as cp312 manylinux wheels (14 MB)
#   gpu_inputs/  MNIST raw IDX files gzipped (12 MB) and CIFAR-10 as the lossless JPEG pack (20 MB)
# Usage: STARCONN_DATA=/path/to/data scripts/gpu-inputs.sh   (then carry .whl and gpu_inputs)
set -euo pipefail
cd "$(dirname "$0")/.."
grep -qx '/.whl/' .git/info/exclude || echo /.whl/ >> .git/info/exclude
grep -qx '/gpu_inputs/' .git/info/exclude || echo /gpu_inputs/ >> .git/info/exclude
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_26_x86_64 --platform manylinux_2_17_x86_64 \
  --platform manylinux2014_x86_64 --platform manylinux1_x86_64 --platform manylinux_2_34_x86_64 -d .whl \
  asttokens comm debugpy entrypoints executing fastjsonschema ipykernel ipython ipython_pygments_lexers \
  jedi jsonschema jsonschema_specifications jupyter_client jupyter_core matplotlib_inline nbclient \
  nbformat nest_asyncio2 papermill parso pexpect platformdirs prompt_toolkit ptyprocess pure_eval pyzmq \
  referencing rpds_py stack_data tenacity tornado traitlets wcwidth
mkdir -p gpu_inputs/mnist gpu_inputs/cifar
for f in "$STARCONN_DATA"/MNIST/raw/*-ubyte; do gzip -c "$f" > "gpu_inputs/mnist/$(basename "$f").gz"; done
src="$STARCONN_DATA/cifar10-jpeg.tar"; [ -d "$STARCONN_DATA/cifar10" ] && src="$STARCONN_DATA/cifar10"
python3 scripts/pack-cifar10.py "$src" gpu_inputs/cifar
du -sh .whl gpu_inputs
