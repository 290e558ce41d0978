#!/usr/bin/env python3
"""Check a built mdBook (default: docs/book) for offline readability.

- every relative link and resource (a/href, img/src, link/href, script/src) of
  every HTML page resolves to a file of the book, and its #fragment (if any)
  to an id or name in the target page;
- no page loads a resource (stylesheet, script, image, font) from the network;
- every url(...) in the book's CSS files (KaTeX's fonts) resolves to a file;
- every SVG file (the plots) is well-formed XML;
- no raw TeX is left in the text outside code: no "$$", no "\\frac" (or other
  common macros), no "$...$" pair, and no KaTeX error spans.

    python3 scripts/check_book_links.py [BOOK_DIR]

Exit status 0 when everything resolves, 1 otherwise (each problem is printed
with the page it was found in). Standard library only.
"""

import html.parser
import os
import re
import sys
import urllib.parse
import xml.etree.ElementTree as ET

TEX_MACROS = re.compile(r"\\(frac|dfrac|tfrac|theta|psi|lambda|sum|lvert|rVert|lVert|mathbb|operatorname|sqrt|cdot|le|ge|pi)\b")
INLINE_MATH = re.compile(r"(?<![\\$])\$[^$\s][^$]*?\$")
SKIP_TEXT_IN = {"code", "pre", "script", "style", "kbd", "samp", "title"}
RESOURCE_ATTRS = {("img", "src"), ("script", "src"), ("link", "href"), ("source", "src")}
LINK_ATTRS = {("a", "href")} | RESOURCE_ATTRS


class Page(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.ids = set()
        self.refs = []  # (tag, attr, value, line)
        self.base = None
        self.stack = []
        self.text = []  # (text, line) outside code
        self.katex_errors = 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for key in ("id", "name"):
            if a.get(key):
                self.ids.add(a[key])
        if tag == "base" and a.get("href"):
            self.base = a["href"]
        if "katex-error" in (a.get("class") or "").split():
            self.katex_errors += 1
        for (t, attr) in LINK_ATTRS:
            if tag == t and a.get(attr) is not None:
                self.refs.append((tag, attr, a[attr], self.getpos()[0], a.get("rel")))
        if tag not in ("br", "img", "meta", "link", "input", "hr", "wbr", "base", "source", "col", "area"):
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if self.stack and self.stack[-1] == tag:
            self.stack.pop()

    def handle_endtag(self, tag):
        if tag in self.stack:
            while self.stack:
                if self.stack.pop() == tag:
                    break

    def handle_data(self, data):
        if not any(t in SKIP_TEXT_IN for t in self.stack):
            self.text.append((data, self.getpos()[0]))


def parse(path):
    p = Page()
    with open(path, encoding="utf-8") as f:
        p.feed(f.read())
    return p


def main():
    root = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "docs/book")
    if not os.path.isfile(os.path.join(root, "index.html")):
        print(f"{root}: no index.html; build the book first (mdbook build docs)")
        return 1
    pages = {}
    css_files = []
    svg_files = []
    for d, _, files in os.walk(root):
        for f in files:
            full = os.path.join(d, f)
            if f.endswith(".html"):
                pages[full] = parse(full)
            elif f.endswith(".css"):
                css_files.append(full)
            elif f.endswith(".svg"):
                svg_files.append(full)

    problems = []
    checked = 0
    external = 0
    for path, page in sorted(pages.items()):
        rel_page = os.path.relpath(path, root)
        if page.base is not None and page.base.startswith("/"):
            base_dir = os.path.join(root, page.base.lstrip("/"))  # site-url based (404.html)
        else:
            base_dir = os.path.dirname(path)
        for tag, attr, value, line, rel in page.refs:
            url = urllib.parse.urlsplit(value)
            if url.scheme in ("http", "https") or value.startswith("//"):
                external += 1
                is_resource = (tag, attr) in RESOURCE_ATTRS and not (
                    tag == "link" and rel not in ("stylesheet", "icon", "shortcut icon", "preload")
                )
                if is_resource:
                    problems.append(f"{rel_page}:{line}: loads {value} from the network")
                continue
            if url.scheme in ("mailto", "javascript", "data"):
                continue
            checked += 1
            target = path if url.path == "" else os.path.normpath(
                os.path.join(base_dir, urllib.parse.unquote(url.path))
            )
            if os.path.isdir(target):
                target = os.path.join(target, "index.html")
            if not os.path.isfile(target):
                problems.append(f"{rel_page}:{line}: <{tag} {attr}=\"{value}\"> -> missing {os.path.relpath(target, root)}")
                continue
            frag = urllib.parse.unquote(url.fragment)
            if frag and target.endswith(".html"):
                if frag not in pages[target].ids:
                    problems.append(f"{rel_page}:{line}: <{tag} {attr}=\"{value}\"> -> no id \"{frag}\" in {os.path.relpath(target, root)}")
        for text, line in page.text:
            for what, pat in (("$$", None), ("TeX macro", TEX_MACROS), ("$…$", INLINE_MATH)):
                hit = (what if what in text else None) if pat is None else (pat.search(text) and pat.search(text).group(0))
                if hit:
                    problems.append(f"{rel_page}:{line}: raw TeX outside code ({what}): {text.strip()[:100]!r}")
        if page.katex_errors:
            problems.append(f"{rel_page}: {page.katex_errors} KaTeX error span(s)")

    fonts = 0
    for css in css_files:
        with open(css, encoding="utf-8") as f:
            text = f.read()
        for m in re.finditer(r"url\(\s*['\"]?([^'\")]+)['\"]?\s*\)", text):
            value = m.group(1)
            if value.startswith("data:"):
                continue
            if value.startswith(("http:", "https:", "//")):
                problems.append(f"{os.path.relpath(css, root)}: loads {value} from the network")
                continue
            fonts += 1
            target = os.path.normpath(os.path.join(os.path.dirname(css), urllib.parse.urlsplit(value).path))
            if not os.path.isfile(target):
                problems.append(f"{os.path.relpath(css, root)}: url({value}) -> missing {os.path.relpath(target, root)}")

    # An image that is not well-formed XML shows as a broken image.
    for svg in svg_files:
        try:
            ET.parse(svg)
        except ET.ParseError as e:
            problems.append(f"{os.path.relpath(svg, root)}: not well-formed SVG: {e}")

    for p in problems:
        print(p)
    print(
        f"{len(pages)} pages, {checked} relative links and resources, {fonts} CSS url()s, "
        f"{len(svg_files)} SVG files checked; "
        f"{external} external links (not followed); {len(problems)} problem(s)"
    )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
