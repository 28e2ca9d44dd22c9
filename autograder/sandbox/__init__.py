"""Where student code runs: bubblewrap or a dropped-privilege process, with kernel confinement and limits.

- :mod:`~autograder.sandbox.backend`: the interface, ``Backend`` (``name``, ``available()``,
  ``describe()``, ``launch()``) and the ``SandboxedProcess`` a launch returns;
- :mod:`~autograder.sandbox.registry`: the backends by mode name, and ``resolve("auto")``;
- :mod:`~autograder.sandbox.bwrap_backend` (with :mod:`~autograder.sandbox.bwrap`, its command
  line) and :mod:`~autograder.sandbox.process_backend` (with :mod:`~autograder.sandbox.drop`, its
  privilege drop): the two implementations;
- shared by both: :mod:`~autograder.sandbox.limits` (every limit, one dataclass),
  :mod:`~autograder.sandbox.child` (setsid and rlimits between fork and exec),
  :mod:`~autograder.sandbox.environment`, :mod:`~autograder.sandbox.identity` (the sandbox uid),
  :mod:`~autograder.sandbox.submission_copy`;
- inside the worker: :mod:`~autograder.sandbox.confine`, :mod:`~autograder.sandbox.landlock`,
  :mod:`~autograder.sandbox.seccomp` (standard library only: their source is shipped in);
- :mod:`~autograder.sandbox.refusal`: no containment at all, no grading; :mod:`~autograder.sandbox.launch`:
  the same operations by mode name (``launch``, ``kill``, ``describe``, ``resolve_mode``, ...).
"""
