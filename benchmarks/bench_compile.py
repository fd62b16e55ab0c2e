"""``torch.compile`` of the training and center steps (``STARCONN_COMPILE=1``) and, on CUDA, CUDA
graphs (``STARCONN_COMPILE=graphs``, mode ``reduce-overhead``) and cuDNN's algorithm timing
(``STARCONN_CUDNN_BENCH=1``, first), against eager, on the workloads of
``bench_steps.py`` (the FNN first: its steps are launch-bound, where graphs should pay most; then
VGG16). The compilation is in the untimed first run; its wall time is the row's ``first_call_s``
(a cost each chapter process pays once per compiled function). On a CPU the inductor compiles C++
(minutes the first time on a loaded 2-core machine; cached under /tmp/torchinductor_*).
"""
from __future__ import annotations

from bench_steps import row, shared_workloads

from _common import Ctx


def run(ctx: Ctx):
    """The rows one by one (a generator: run.py keeps each as it comes)."""
    w = shared_workloads(ctx)
    cuda = ctx.device.type == "cuda"
    if cuda:  # cuDNN's own timing of convolution algorithms (no compilation; first, being cheap)
        for name in ("vgg16 train", "vgg16 center"):
            yield row(ctx, w[name], {"STARCONN_CUDNN_BENCH": "1"}, "cudnn.benchmark")
    modes = ["graphs", "1"] if cuda else ["1"]
    for name in ("fnn center", "fnn train", "vgg16 train", "vgg16 center"):
        for mode in modes:
            yield row(ctx, w[name], {"STARCONN_COMPILE": mode},
                      "torch.compile" if mode == "1" else "torch.compile + CUDA graphs")
