"""From the instructor's source to the student release: nbgrader markers, release, notebooks."""
