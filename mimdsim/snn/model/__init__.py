"""The network: its spec and model files, connectivity, NIR import and workload graph."""
