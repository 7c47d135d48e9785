"""The sparse training step lowered to the BSP program: the tile layout, the authors' op versions (final, 2022-09-12) and their codelets' cycle estimators."""
