"""Execution levers: switches that change how the steps run, read from environment variables.

Each lever computes the same thing as the default way to a stated tolerance (checked on the CPU by
``tests/test_levers.py``; the benchmarks time it, ``benchmarks/bench_steps.py``), except
``STARCONN_BN_EXAMPLES``, which changes the measured numbers (by how much: ``results/protocol-notes.md``).
None is part of a store key; a chapter's results JSON lists the levers that were set (:func:`active`,
``env.levers``).

=========================  ========================  ==========  ===========================================
variable                   values                    default     what
=========================  ========================  ==========  ===========================================
``STARCONN_COMPILE``       ``0``, ``1``, ``graphs``,  ``0``       ``torch.compile`` of the training and center
                           ``aot_eager``                         steps' loss (forward and backward; inductor).
                                                                 ``graphs``: also CUDA graphs (mode
                                                                 ``reduce-overhead``), on CUDA only (elsewhere
                                                                 as ``1``). ``aot_eager``: the capture without
                                                                 code generation (what the CPU tests use)
``STARCONN_ADAM``          ``default``, ``foreach``,  ``default`` Adam's implementation; ``fused`` only where
                           ``fused``                             torch has the kernel (CUDA, CPU), else default
``STARCONN_INFERENCE``     ``1``, ``0``              ``1``       path evaluation under ``torch.inference_mode``
                                                                 (``0``: ``torch.no_grad``); bit-identical
``STARCONN_EVAL_BATCH``    an integer ≥ 1            the caller  examples per forward pass in path evaluation
``STARCONN_BN_EXAMPLES``   an integer ≥ 0            ``0``       BatchNorm statistics at path points from a
                                                                 fixed random subset of this many training
                                                                 examples (``0``: the whole training set).
                                                                 Changes the measured numbers
``STARCONN_CHANNELS_LAST`` ``0``, ``1``              ``0``       conv nets' inputs in channels_last layout
``STARCONN_CUDNN_BENCH``   ``0``, ``1``              ``0``       ``torch.backends.cudnn.benchmark``: cuDNN
                                                                 times its convolution algorithms for each
                                                                 shape and keeps the fastest (CUDA only)
=========================  ========================  ==========  ===========================================

A bad value is a :class:`~starconn.errors.ParamError` naming the variable and the allowed values.
"""
from __future__ import annotations

import os
import warnings
from typing import Callable

import torch

from .errors import ParamError

CHOICES = {
    "STARCONN_COMPILE": ("0", "1", "graphs", "aot_eager"),
    "STARCONN_ADAM": ("default", "foreach", "fused"),
    "STARCONN_INFERENCE": ("1", "0"),
    "STARCONN_CHANNELS_LAST": ("0", "1"),
    "STARCONN_CUDNN_BENCH": ("0", "1"),
}
INTEGERS = {"STARCONN_EVAL_BATCH": 1, "STARCONN_BN_EXAMPLES": 0}  # variable -> smallest allowed value
CHANGES_NUMBERS = ("STARCONN_BN_EXAMPLES",)


def _choice(var: str) -> str:
    value = os.environ.get(var) or CHOICES[var][0]
    if value not in CHOICES[var]:
        raise ParamError(f"{var} must be one of {', '.join(CHOICES[var])}; got {value!r}")
    return value


def _integer(var: str) -> int | None:
    raw = os.environ.get(var)
    if not raw:
        return None
    try:
        value = int(raw)
    except ValueError:
        value = None
    if value is None or value < INTEGERS[var]:
        raise ParamError(f"{var} must be an integer >= {INTEGERS[var]}; got {raw!r}")
    return value


def compile_mode() -> str:
    """``STARCONN_COMPILE``: ``0`` (eager), ``1``, ``graphs`` or ``aot_eager``."""
    return _choice("STARCONN_COMPILE")


def cuda_graphs(device: torch.device) -> bool:
    """CUDA graphs are on: ``STARCONN_COMPILE=graphs`` on a CUDA device."""
    return compile_mode() == "graphs" and device.type == "cuda"


def compiled(fn: Callable, device: torch.device) -> Callable:
    """``fn`` compiled as ``STARCONN_COMPILE`` says (``fn`` itself when it is ``0``)."""
    mode = compile_mode()
    if mode == "0":
        return fn
    if mode == "aot_eager":
        return torch.compile(fn, backend="aot_eager", dynamic=False)
    if mode == "graphs" and device.type != "cuda":
        warnings.warn(f"STARCONN_COMPILE=graphs: CUDA graphs need a CUDA device; on {device.type} the steps are "
                      "compiled without them", stacklevel=2)
    return torch.compile(fn, mode="reduce-overhead" if cuda_graphs(device) else None, dynamic=False)


def step_begin(device: torch.device) -> None:
    """Mark the start of an optimisation step for CUDA graphs (the outputs of the step before are
    consumed by then); nothing otherwise."""
    if cuda_graphs(device):
        torch.compiler.cudagraph_mark_step_begin()


def adam_options(device: torch.device) -> dict:
    """Keyword arguments of ``torch.optim.Adam`` for ``STARCONN_ADAM`` on ``device``."""
    impl = _choice("STARCONN_ADAM")
    if impl == "foreach":
        return {"foreach": True}
    if impl == "fused":
        try:  # torch's own list (private); torch >= 2.4 has fused Adam on CUDA and on the CPU
            from torch.utils._foreach_utils import _get_fused_kernels_supported_devices as supported
        except ImportError:
            supported = lambda: ("cuda", "cpu")  # noqa: E731
        if device.type in supported():
            return {"fused": True}
        warnings.warn(f"STARCONN_ADAM=fused: torch has no fused Adam on {device.type}; the default Adam is used",
                      stacklevel=2)
    return {}


def inference() -> bool:
    """Path evaluation under ``torch.inference_mode`` (``STARCONN_INFERENCE``, default on)."""
    return _choice("STARCONN_INFERENCE") == "1"


def no_grad():
    """The context path evaluation runs in: ``torch.inference_mode()`` or ``torch.no_grad()``."""
    return torch.inference_mode() if inference() else torch.no_grad()


def eval_batch(default: int) -> int:
    """Examples per forward pass in path evaluation: ``STARCONN_EVAL_BATCH``, else ``default``."""
    return _integer("STARCONN_EVAL_BATCH") or default


def bn_examples() -> int:
    """Training examples the BatchNorm statistics of path points are computed from (0: all)."""
    return _integer("STARCONN_BN_EXAMPLES") or 0


def channels_last() -> bool:
    return _choice("STARCONN_CHANNELS_LAST") == "1"


def set_backends() -> None:
    """Apply the global switches (``STARCONN_CUDNN_BENCH``) before steps or evaluations run."""
    torch.backends.cudnn.benchmark = _choice("STARCONN_CUDNN_BENCH") == "1"


def active() -> dict[str, str]:
    """The levers set to other than their default (variable -> value), after checking every value."""
    for var in CHOICES:
        _choice(var)
    for var in INTEGERS:
        _integer(var)
    defaults = {**{var: values[0] for var, values in CHOICES.items()}, "STARCONN_BN_EXAMPLES": "0"}
    return {var: os.environ[var] for var in (*CHOICES, *INTEGERS)
            if os.environ.get(var) and os.environ[var] != defaults.get(var)}
