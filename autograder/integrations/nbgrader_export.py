"""nbgrader's exporter for the merged gradebook: module grades (grade-all) and notebook grades (nbgrader).

``nbgrader export --exporter=autograder.integrations.nbgrader_export.ModuleGradesExportPlugin
--ModuleGradesExportPlugin.modules=out/gradebook.csv --to grades.csv`` (``nbgrader_config.py`` sets
it). Only nbgrader imports this module, so grade-all never pays for importing nbgrader.
"""
from __future__ import annotations

from pathlib import Path

from nbgrader.api import Gradebook
from nbgrader.plugins import ExportPlugin
from traitlets import Unicode

from autograder.classroom.gradebook import merge, notebook_grades, read_gradebook, write_csv
from autograder.engine import pack


class ModuleGradesExportPlugin(ExportPlugin):
    """nbgrader exporter writing the merged gradebook (module grades + notebook grades)."""

    modules = Unicode("out/gradebook.csv", help="gradebook.csv written by grade-all").tag(config=True)
    assignment_name = Unicode(pack.DEFAULT, help="the nbgrader assignment of the lecture notebook").tag(config=True)

    def export(self, gradebook: Gradebook) -> None:
        dest = Path(self.to or "grades.csv")
        header, rows = merge(read_gradebook(Path(self.modules)), notebook_grades(gradebook, self.assignment_name))
        if self.student:
            rows = [r for r in rows if r["student"] in {str(s) for s in self.student}]
        write_csv(dest, header, rows)
        self.log.info("Wrote %d students to %s", len(rows), dest)
