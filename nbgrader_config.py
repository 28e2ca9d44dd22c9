"""This repository as an nbgrader course (read by every ``nbgrader`` command run from its root).

Folders, relative to this file (all but source/ and assignments/ are ignored by git):

- ``source/rnn_lstm/``: the instructor version (nbgrader's source directory).
- ``assignments/rnn_lstm/``: what students get, made by OUR release step
  ``python -m autograder release`` (nbgrader's generate_assignment preprocessors for the notebook,
  our marker processing for the .py modules). Distribute this folder.
- ``release/``: where ``nbgrader generate_assignment rnn_lstm`` writes. Run it once per course to
  record the notebook's grade cells in gradebook.db (autograde needs them); never hand out
  release/, since nbgrader copies the .py modules of source/ there unchanged, solutions included.
- ``submitted/<student>/rnn_lstm/``: collected submissions (``nbgrader collect``, or copy them);
  ``python -m autograder grade-all submitted --out out`` grades the modules in the same layout.
- ``autograded/``, ``feedback/``: ``nbgrader autograde rnn_lstm`` / ``nbgrader generate_feedback``.
- ``gradebook.db``: nbgrader's gradebook (notebook grades).

One CSV with module grades and notebook grades per student, the file a TA uploads:
``nbgrader export`` (the exporter below; reads out/gradebook.csv from grade-all), or
``python -m autograder gradebook --modules out/gradebook.csv --out grades.csv``.
"""
from pathlib import Path

ROOT = Path(__file__).resolve().parent

c = get_config()  # noqa: F821 - provided by nbgrader when it loads this file

c.CourseDirectory.root = str(ROOT)
c.CourseDirectory.course_id = "rnn_lstm"
c.CourseDirectory.source_directory = "source"
c.CourseDirectory.release_directory = "release"
c.CourseDirectory.submitted_directory = "submitted"
c.CourseDirectory.autograded_directory = "autograded"
c.CourseDirectory.feedback_directory = "feedback"
c.CourseDirectory.db_url = f"sqlite:///{ROOT / 'gradebook.db'}"
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", ".hypothesis", ".pytest_cache"]

# Notebook execution during autograde: the lecture notebook trains small models.
c.ExecutePreprocessor.timeout = 600

# `nbgrader export` merges the module grades of grade-all with nbgrader's notebook grades.
c.ExportApp.plugin_class = "autograder.integrations.nbgrader_export.ModuleGradesExportPlugin"
c.ModuleGradesExportPlugin.modules = str(ROOT / "out" / "gradebook.csv")
c.ModuleGradesExportPlugin.assignment_name = "rnn_lstm"
