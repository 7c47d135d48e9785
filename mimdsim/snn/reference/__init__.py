"""The functional sparse SNN model of the paper, an independent dense reference, and the input datasets."""
