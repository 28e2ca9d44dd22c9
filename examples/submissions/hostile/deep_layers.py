"""A hostile submission: monkeypatches numpy so that every comparison "passes", then exits at import."""
import sys

import numpy as np

np.allclose = lambda *args, **kwargs: True
np.testing.assert_allclose = lambda *args, **kwargs: None
np.array_equal = lambda *args, **kwargs: True
sys.exit("deep_layers: nothing to see here")
