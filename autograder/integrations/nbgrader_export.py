"""nbgrader's exporter for the merged gradebook: module grades (grade-all) and notebook grades (nbgrader).

``nbgrader export --exporter=autograder.integrations.nbgrader_export.ModuleGradesExportPlugin
--ModuleGradesExportPlugin.modules=out/gradebook.csv --to grades.csv`` (``nbgrader_config.py`` sets
it). Only nbgrader imports this module, so grade-all never pays for importing nbgrader.

A module gradebook that cannot be read ends the export with one error line (nbgrader's own way of
failing: logged, exit status 1), not a traceback. Answers still waiting for manual grading are
counted in the ``pending`` column and named in ``notes``, and the export warns about them.
"""
from __future__ import annotations

import sys
from pathlib import Path

from nbgrader.api import Gradebook
from nbgrader.plugins import ExportPlugin
from traitlets import Unicode

from autograder.classroom.gradebook import GradebookError, merge, notebook_grades, pending_summary, read_gradebook, write_csv
from autograder.engine import pack


class ModuleGradesExportPlugin(ExportPlugin):
    """nbgrader exporter writing the merged gradebook (module grades + notebook grades)."""

    modules = Unicode("out/gradebook.csv", help="gradebook.csv written by grade-all").tag(config=True)
    assignment_name = Unicode(pack.DEFAULT, help="the nbgrader assignment of the lecture notebook").tag(config=True)

    def export(self, gradebook: Gradebook) -> None:
        dest = Path(self.to or "grades.csv")
        try:
            module_rows = read_gradebook(Path(self.modules))
        except GradebookError as exc:
            self.log.error("%s; set ModuleGradesExportPlugin.modules in nbgrader_config.py or pass "
                           "--ModuleGradesExportPlugin.modules=PATH", exc)
            sys.exit(1)
        header, rows = merge(module_rows, notebook_grades(gradebook, self.assignment_name))
        if self.student:
            rows = [r for r in rows if r["student"] in {str(s) for s in self.student}]
        write_csv(dest, header, rows)
        self.log.info("Wrote %d students to %s", len(rows), dest)
        pending = pending_summary(rows)
        if pending:
            self.log.warning("%s", pending)
