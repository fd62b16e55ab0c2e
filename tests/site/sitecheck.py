"""Static checks of the built book (no browser): the pages of the table of contents, resources that
would need the internet, and internal links that do not resolve.

    python tests/site/sitecheck.py [_build/html]    # prints the problems; exit 1 if any
"""
from __future__ import annotations

import os
import re
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

from starconn import build

REPO = Path(__file__).resolve().parents[2]
# tags whose src/href the browser fetches by itself (an <a href> is only a link)
FETCHED = {"script": "src", "img": "src", "iframe": "src", "source": "src", "video": "src",
           "audio": "src", "embed": "src", "link": "href"}
SKIP_DIRS = {"_static", "_sources", "_images", "_downloads"}   # assets, not pages
CSS_URL = re.compile(r"""(?:url\(\s*['"]?|@import\s+['"])((?:https?:)?//[^'")\s]+)""")


def toc_pages(toc: Path = REPO / "_toc.yml") -> list[str]:
    """The HTML paths (relative to the site root) of every document in ``_toc.yml``, root first."""
    return [f + ".html" for f in build.toc_files(toc)]


def chapter_id(page: str) -> str:
    return Path(page).stem


class _Page(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()
        self.links: list[str] = []        # <a href>
        self.fetched: list[str] = []      # URLs the browser loads by itself

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for key in ("id", "name"):
            if a.get(key):
                self.ids.add(a[key])
        if tag == "a" and a.get("href"):
            self.links.append(a["href"])
        # <link rel="next"/"prev"/"search"/"index"> is navigation, not fetched
        navigation = tag == "link" and not {"stylesheet", "preload", "icon", "shortcut", "modulepreload",
                                            "manifest"} & set((a.get("rel") or "").lower().split())
        if tag in FETCHED and a.get(FETCHED[tag]) and not navigation:
            self.fetched.append(a[FETCHED[tag]])
        if tag == "img" and a.get("srcset"):
            self.fetched += [s.split()[0] for s in a["srcset"].split(",") if s.strip()]


def _parse(path: Path) -> _Page:
    p = _Page()
    p.feed(path.read_text(encoding="utf-8", errors="replace"))
    return p


def html_pages(site: Path) -> list[Path]:
    return sorted(p for p in site.rglob("*.html")
                  if not SKIP_DIRS & set(p.relative_to(site).parts[:-1]))


def _remote(url: str) -> bool:
    return url.startswith("//") or urlsplit(url).scheme in ("http", "https")


def external_resources(site: Path) -> list[str]:
    """Every script, stylesheet, font, image or frame the site would load from another host."""
    bad = []
    for page in html_pages(site):
        for url in _parse(page).fetched:
            if _remote(url):
                bad.append(f"{page.relative_to(site)}: loads {url}")
    for css in sorted(site.rglob("*.css")):
        for url in CSS_URL.findall(css.read_text(encoding="utf-8", errors="replace")):
            bad.append(f"{css.relative_to(site)}: loads {url}")
    return bad


def broken_internal_links(site: Path) -> list[str]:
    """Relative links and resources (with their #fragment) that point to nothing in the site."""
    site = site.resolve()
    parsed: dict[Path, _Page] = {}

    def page(path: Path) -> _Page:
        if path not in parsed:
            parsed[path] = _parse(path)
        return parsed[path]

    bad = []
    for src in html_pages(site):
        p = page(src)
        for url in p.links + p.fetched:
            parts = urlsplit(url)
            if parts.scheme or url.startswith("//") or url.startswith("javascript:"):
                continue
            target = (src.parent / unquote(parts.path)).resolve() if parts.path else src
            if target.is_dir():
                target = target / "index.html"
            where = f"{src.relative_to(site)}: {url}"
            if site not in target.parents and target != site:
                bad.append(f"{where} (outside the site)")
            elif not target.is_file():
                bad.append(f"{where} (no such file)")
            elif parts.fragment and target.suffix == ".html" and unquote(parts.fragment) not in page(target).ids:
                bad.append(f"{where} (no id {parts.fragment!r} in {target.relative_to(site)})")
    return bad


TEXT = {".html", ".js", ".json", ".ipynb", ".txt", ".css", ".xml"}


def private_paths() -> list[str]:
    """Absolute paths of the building machine that a published site must not contain: the
    repository, $HOME, and the data, cache and results directories (where set)."""
    found = [str(REPO)] + [os.environ.get(v, "") for v in ("HOME", "STARCONN_DATA", "STARCONN_CACHE", "STARCONN_OUT")]
    out = []
    for p in found:
        p = p.rstrip("/")
        if p and p != "/" and os.path.isabs(p):
            out += [p, os.path.realpath(p)]
    return sorted(set(out), key=len, reverse=True)


def machine_paths(site: Path, paths: list[str]) -> list[str]:
    """``file: path`` for every text file of the site that contains one of ``paths`` (as a path:
    followed by a separator, a quote, a space or the end of the text)."""
    if not paths:
        return []
    pattern = re.compile("(" + "|".join(re.escape(p) for p in paths) + r")(?=[/\\\s\"'<]|$)")
    bad = []
    for f in sorted(site.rglob("*")):
        if f.is_file() and f.suffix in TEXT:
            m = pattern.search(f.read_text(encoding="utf-8", errors="replace"))
            if m:
                bad.append(f"{f.relative_to(site)}: {m.group(1)}")
    return bad


def main(argv: list[str]) -> int:
    site = Path(argv[0] if argv else REPO / "_build" / "html")
    missing = [p for p in toc_pages() if not (site / p).is_file()]
    problems = ([f"table of contents page not built: {p}" for p in missing]
                + external_resources(site) + broken_internal_links(site)
                + [f"{leak} (a path of this machine)" for leak in machine_paths(site, private_paths())])
    for line in problems:
        print(line)
    print(f"{site}: {len(html_pages(site))} pages, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
