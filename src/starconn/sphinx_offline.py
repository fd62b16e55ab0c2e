"""Sphinx extension: the built book works with no internet.

Sphinx loads MathJax from a CDN by default. This extension points ``mathjax_path`` at a local copy
(``_static/mathjax/tex-mml-chtml.js``, relative to each page) and, after an HTML build, copies
MathJax 3 there from the PyPI package ``django-static-mathjax`` (the official MathJax ``es5``
distribution, Apache-2.0; it installs the import package ``mathjax``). MathJax loads its fonts and
TeX extensions relative to that script, so they are local too.

Enabled from ``_config.yml`` (listed in ``sphinx: config: extensions``).
"""
from __future__ import annotations

import shutil
from pathlib import Path

TARGET = "mathjax"                 # under _static/
ENTRY = "tex-mml-chtml.js"         # the same combined component Sphinx loads from the CDN
# what the combined component never loads: other combined builds, SVG output, Node entry points
IGNORE = shutil.ignore_patterns("*-svg*.js", "*-full*.js", "mml-*.js", "node-main.js", "svg")


def mathjax_source() -> Path:
    """The ``es5`` directory of the installed MathJax copy; a clear error if it is missing."""
    try:
        import mathjax  # django-static-mathjax
    except ImportError as err:
        raise RuntimeError("starconn.sphinx_offline needs a local MathJax: "
                           "pip install django-static-mathjax") from err
    es5 = Path(mathjax.__file__).parent / "static" / "mathjax" / "es5"
    if not (es5 / ENTRY).is_file():
        raise RuntimeError(f"MathJax copy incomplete: {es5 / ENTRY} is missing")
    return es5


def _use_local(app, config) -> None:
    if "://" in str(config.mathjax_path) or not config.mathjax_path:  # the CDN default
        config.mathjax_path = f"{TARGET}/{ENTRY}"                      # relative to _static/


def _copy(app, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    src, dst = mathjax_source(), Path(app.outdir) / "_static" / TARGET
    if dst.exists():
        shutil.rmtree(dst)
    shutil.copytree(src, dst, ignore=IGNORE)
    shutil.copy2(src.parent / "LICENSE", dst / "LICENSE")


def setup(app):
    app.setup_extension("sphinx.ext.mathjax")
    mathjax_source()  # fail at start, not after executing every chapter
    app.connect("config-inited", _use_local)
    app.connect("build-finished", _copy)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
