"""Feedback as HTML: the Markdown report rendered with the ``markdown`` package, safely.

Feedback quotes student output and student-chosen names, so raw HTML in the Markdown is never
passed through: the raw-HTML block and inline processors are removed (``<script>`` is shown as
text) and links are kept only for http(s), mailto and in-page targets.
"""
from __future__ import annotations

import html
import xml.etree.ElementTree as etree

import markdown
from markdown.extensions import Extension
from markdown.treeprocessors import Treeprocessor

SAFE_LINK_PREFIXES = ("http://", "https://", "mailto:", "#")

PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; line-height: 1.45; }}
table {{ border-collapse: collapse; }}
th, td {{ border: 1px solid #ccc; padding: 0.25rem 0.6rem; text-align: left; }}
th {{ background: #f3f3f3; }}
td:not(:first-child) {{ text-align: center; }}
pre {{ background: #f6f6f6; padding: 0.6rem; white-space: pre-wrap; overflow-wrap: anywhere; }}
code {{ font-family: ui-monospace, monospace; overflow-wrap: anywhere; }}
h3 {{ margin-top: 2rem; border-bottom: 1px solid #ddd; }}
h4 {{ margin-bottom: 0.3rem; }}
blockquote {{ margin: 0.6rem 0; padding: 0.1rem 0.8rem; border-left: 3px solid #bbb; background: #fafafa; }}
</style>
</head>
<body>
{body}
</body>
</html>
"""


class _SafeLinks(Treeprocessor):
    def run(self, root: etree.Element) -> None:
        for element in root.iter():
            for attribute in ("href", "src"):
                value = element.get(attribute)
                if value is not None and not value.strip().lower().startswith(SAFE_LINK_PREFIXES):
                    del element.attrib[attribute]


class _NoRawHtml(Extension):
    def extendMarkdown(self, md: markdown.Markdown) -> None:
        md.preprocessors.deregister("html_block")
        md.inlinePatterns.deregister("html")
        md.treeprocessors.register(_SafeLinks(md), "safe_links", 0)


def markdown_to_html(text: str, title: str = "Feedback") -> str:
    """A standalone HTML page (UTF-8) for a Markdown document; raw HTML in ``text`` is escaped."""
    converter = markdown.Markdown(extensions=["tables", "fenced_code", "sane_lists", _NoRawHtml()])
    return PAGE.format(title=html.escape(title), body=converter.convert(text))
