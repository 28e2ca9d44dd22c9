"""Write the results: Gradescope results.json, and the Markdown feedback (jinja2 template)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict

from jinja2 import Environment, FileSystemLoader, StrictUndefined

TEMPLATES = Path(__file__).resolve().parent / "templates"


def write_results(results: Dict[str, Any], path: Path) -> None:
    """results.json with a stable key order (sorted) and indent 2, written atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(results, indent=2, sort_keys=True, allow_nan=False) + "\n", encoding="utf-8")
    tmp.replace(path)


def _points(value: float) -> str:
    return f"{value:g}"


def feedback_markdown(results: Dict[str, Any]) -> str:
    """A table of functions with their points, then the details of every failed test."""
    env = Environment(loader=FileSystemLoader(str(TEMPLATES)), undefined=StrictUndefined, keep_trailing_newline=True,
                      trim_blocks=True, lstrip_blocks=True, autoescape=False)
    env.filters["points"] = _points
    functions = results.get("extra_data", {}).get("functions", {})
    failed = [t for t in results["tests"] if t["status"] != "passed"]
    total = sum(t["max_score"] for t in results["tests"])
    return env.get_template("feedback.md.j2").render(results=results, functions=functions, failed=failed,
                                                     total=total)
