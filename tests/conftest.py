"""Test-session settings: the disk cache of functional activity (mimdsim.snn.activity.cache) lives in
a temporary folder of this session, never in the user's cache."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile

_CACHE = tempfile.mkdtemp(prefix="mimdsim-test-cache-")
os.environ["MIMDSIM_CACHE_DIR"] = _CACHE
atexit.register(shutil.rmtree, _CACHE, ignore_errors=True)
