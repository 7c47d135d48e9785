"""Checks of mimdsim against published numbers: the Poplar tutorial 6 calibration (:mod:`~mimdsim.validation.tut6`,
:mod:`~mimdsim.validation.tut6_exchange`, :mod:`~mimdsim.validation.tut6_rows`) and the generated page
docs/validation.md (:mod:`mimdsim.validation.page`, ``python -m mimdsim.validation.page``), whose sections run
sweeps; :mod:`mimdsim.report` only renders."""
