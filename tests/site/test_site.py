"""The built book, as a reader meets it: headless Chromium over HTTP, no internet.

Run with ``make site-test`` (builds the smoke-profile site when it is missing); skipped otherwise.
"""
from __future__ import annotations

import re

import nbformat
import pytest

import sitecheck

PAGES = sitecheck.toc_pages()
ROOT_PAGE, CHAPTERS = PAGES[0], PAGES[1:]
# Sphinx's smartquotes set the page title's quotes typographically; the notebook's heading keeps ASCII ones
SMARTQUOTES = str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"'})
# the two chapters photographed for the README and the CI artifacts
SCREENSHOTS = ("book/relu-star.html", "book/linear-2pl.html")

CHAPTER_STATE = """async () => {
  const body = document.querySelector('article.bd-article') || document.querySelector('main') || document.body;
  const imgs = [...body.querySelectorAll('img')];
  const decoded = await Promise.all(imgs.map(async (img) => {
    try { await img.decode(); } catch (e) { return false; }
    const r = img.getBoundingClientRect();
    return img.naturalWidth > 0 && img.naturalHeight > 0 && r.width > 0 && r.height > 0;
  }));
  const dl = document.querySelector('a.btn-download-source-button');
  const params = body.querySelector('.cell.tag_parameters');
  const folded = params && params.querySelector('details');
  return {
    images: imgs.length,
    decoded: decoded.filter(Boolean).length,
    math_source: body.querySelectorAll('.math').length,
    mathjax: body.querySelectorAll('mjx-container').length,
    math_errors: [...body.querySelectorAll('mjx-merror')].map(e => e.textContent),
    download: dl ? dl.href : null,
    params_cell: !!params,
    params_folded: !!folded && !folded.open && !!folded.querySelector('.cell_input'),
    title: (body.querySelector('h1') || {}).textContent || '',
    text: body.innerText,
  };
}"""


def test_static_site(site):
    """No CDN: nothing the pages load comes from another host; internal links all resolve."""
    assert [p for p in PAGES if not (site / p).is_file()] == [], "table-of-contents pages not built"
    assert sitecheck.external_resources(site) == []
    assert sitecheck.broken_internal_links(site) == []
    mathjax = site / "_static" / "mathjax" / "tex-mml-chtml.js"
    assert mathjax.is_file(), "MathJax is not served from the site (starconn.sphinx_offline)"
    html = next(t for t in ((site / c).read_text() for c in CHAPTERS) if 'class="math' in t)  # pages with math load it
    assert 'src="../_static/mathjax/tex-mml-chtml.js' in html


def test_no_paths_of_the_building_machine(site):
    """The published site names no absolute path of the machine that built it: not the
    repository, not $HOME, not the data or cache directory (checked in every page, the search
    index and the downloadable sources)."""
    leaks = sitecheck.machine_paths(site, sitecheck.private_paths())
    assert leaks == [], "\n".join(leaks[:20])


def test_root_page_loads_cleanly(visit):
    """The book's first page (and, in test_chapter_page, every chapter) loads without console
    errors or failed requests, and asks for nothing outside the site."""
    visit.page.goto(visit.base + "index.html")      # a redirect to the root page
    visit.page.wait_for_url("**/" + ROOT_PAGE, timeout=10_000)
    assert visit.open(ROOT_PAGE) == []
    assert visit.offsite == [], "the site fetched resources from the internet"
    nav = visit.page.eval_on_selector_all("nav.bd-docs-nav a.reference.internal",
                                          "as => as.map(a => a.getAttribute('href'))")
    assert len(nav) >= len(CHAPTERS), "the sidebar does not list every chapter"


@pytest.mark.parametrize("path", CHAPTERS)
def test_chapter_page(visit, base_url, path, screenshots):
    """A chapter shows a decoded figure and typeset math, the command that re-runs it, and a
    download link that returns the chapter's (valid, parameterised) notebook."""
    chapter = sitecheck.chapter_id(path)
    assert visit.open(path) == []
    assert visit.offsite == [], "the site fetched resources from the internet"
    state = visit.page.evaluate(CHAPTER_STATE)
    assert state["decoded"] >= 1, f"no rendered figure ({state['images']} img elements)"
    assert state["math_source"] >= 1, "no math on the page"
    assert state["mathjax"] >= state["math_source"], "math that MathJax did not typeset"
    assert state["math_errors"] == []
    assert f"python -m starconn run {chapter}" in state["text"], "no re-run command"
    assert state["params_cell"] and state["params_folded"], "the parameters cell is not folded"
    assert re.search(r"profile\W+(smoke|cpu|paper)\b", state["text"]), "the page does not say its profile"
    # the download button: the source notebook, which papermill runs with other parameters
    assert state["download"], "no download button"
    assert state["download"].endswith(f"{chapter}.ipynb")
    resp = visit.context.request.get(state["download"])
    assert resp.ok, f"download link: HTTP {resp.status}"
    nb = nbformat.reads(resp.text(), as_version=4)
    nbformat.validate(nb)
    assert nb.cells[0].source.startswith("# ")
    heading = nb.cells[0].source.splitlines()[0][2:].strip()
    title = state["title"].strip().rstrip("#").strip()
    assert title.translate(SMARTQUOTES) == heading, "the page's title is not the notebook's heading"
    assert any("parameters" in c.metadata.get("tags", []) for c in nb.cells if c.cell_type == "code")
    assert not any(c.get("outputs") for c in nb.cells), "the download is an executed copy, not the chapter's notebook"
    if path in SCREENSHOTS:
        _screenshots(visit.page, screenshots, chapter)


def _screenshots(page, out, chapter):
    """``<chapter>.png``: the whole page; ``<chapter>-top.png``: from the title down to the end of
    the first figure (claim, theorems with typeset math, the code and the figure)."""
    page.screenshot(path=str(out / f"{chapter}.png"), full_page=True)
    bottom = page.evaluate("""() => {
      const img = document.querySelector('article img');
      return Math.ceil(img.getBoundingClientRect().bottom + window.scrollY + 24);
    }""")
    page.screenshot(path=str(out / f"{chapter}-top.png"), full_page=True,
                    clip={"x": 0, "y": 0, "width": page.viewport_size["width"], "height": min(bottom, 4000)})
    for name in (f"{chapter}.png", f"{chapter}-top.png"):
        assert (out / name).stat().st_size > 20_000, name


SCORECARD = """() => {
  const article = document.querySelector('article.bd-article');
  const tables = [...article.querySelectorAll('table.starconn-scorecard')];
  const rows = [];
  for (const t of tables) {
    let chapter = null;
    for (const tr of t.tBodies[0].rows) {
      const a = tr.querySelector('a');
      if (a) chapter = a.getAttribute('href');
      const cells = [...tr.cells].map(c => c.innerText.trim());
      rows.push({chapter, reduced: cells[cells.length - 2], verdict: cells[cells.length - 1]});
    }
  }
  const main = tables[0];
  return {
    tables: tables.length,
    head: main ? [...main.tHead.rows[0].cells].map(c => c.innerText.replace(/\\s+/g, ' ').trim()) : [],
    table_width: main ? main.getBoundingClientRect().width : 0,
    room: main ? main.parentElement.clientWidth : 0,
    table_right: main ? main.getBoundingClientRect().right : 0,
    article_right: article.getBoundingClientRect().right,
    page_scrolls: document.documentElement.scrollWidth > window.innerWidth,
    rows,
    dropdowns: [...article.querySelectorAll('details.sd-dropdown')].map(d => [d.open, d.innerText.split('\\n')[0].trim()]),
    top: main ? main.getBoundingClientRect().top + window.scrollY : null,
  };
}"""


def test_scorecard_front_page(visit, screenshots):
    """The scorecard opens with one compact table (paper item | the paper | ours at paper scale |
    ours reduced | verdict) that fits a laptop window (1280×800) without scrolling sideways; it
    lists a build result for every chapter it scores (it ran after them); provenance and rules are
    folded below it."""
    visit.page.set_viewport_size({"width": 1280, "height": 800})
    try:
        assert visit.open("book/scorecard.html") == []
        s = visit.page.evaluate(SCORECARD)
        visit.page.screenshot(path=str(screenshots / "scorecard-1280x800.png"))
    finally:
        visit.page.set_viewport_size({"width": 1280, "height": 900})
    assert s["tables"] == 2  # figures and tables; the theory's other statements
    head = s["head"]
    assert head[:3] == ["paper item", "the paper", "ours at paper scale"] and head[3].startswith("ours reduced") \
        and head[4:] == ["verdict"], head
    assert not s["page_scrolls"], "the page scrolls sideways at 1280 px"
    assert s["table_width"] <= s["room"] + 1 and s["table_right"] <= s["article_right"] + 1, s
    assert s["top"] < 800, "the table does not start in the first screen"
    chapters = {r["chapter"] for r in s["rows"]}
    assert None not in chapters and len(chapters) >= 10, chapters  # every row is linked to its chapter
    listed = {r["chapter"] for r in s["rows"] if r["reduced"] != "not run"}
    assert chapters - listed == set(), f"chapters the scorecard scores with no build result shown: {chapters - listed}"
    assert len(s["dropdowns"]) == 2 and not any(open_ for open_, _ in s["dropdowns"]), s["dropdowns"]


def test_search(visit):
    """Sphinx's client-side search finds the chapters (it needs searchindex.js, served locally)."""
    assert visit.open("search.html?q=connectivity") == []
    visit.page.wait_for_selector("ul.search li", timeout=20_000)
    hits = visit.page.eval_on_selector_all("ul.search li a", "as => as.map(a => a.getAttribute('href'))")
    assert any(re.search(r"book/[a-z0-9-]+\.html", h or "") for h in hits), hits


def test_definitions_are_typeset(visit):
    """Theorems and definitions are sphinx-proof blocks, and {prf:ref} links reach them."""
    visit.open(ROOT_PAGE)
    assert visit.page.locator("div.proof.definition").count() >= 3
    ref = visit.page.locator("a.reference.internal[href*='#def-ngd']").first
    assert ref.count() == 1
    ref.click()
    visit.page.wait_for_load_state("load")
    assert visit.page.locator("[id='def-ngd']").count() == 1
