"""What Poplar and PopLibs decide for a program: tensor tile layouts and PopLibs' vertex cycle estimators.

Workloads that lower a Poplar program (:mod:`mimdsim.snn`) use these to place tensors and
to cost PopLibs' vertices as PopLibs itself does.
"""

from mimdsim.poplibs import estimators
from mimdsim.poplibs.layout import linear_layout, sliceable_columns, sliceable_layout, unplanned_hash

__all__ = ["estimators", "linear_layout", "sliceable_columns", "sliceable_layout", "unplanned_hash"]
