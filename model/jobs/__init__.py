"""Training as Dask tasks: the cluster, one shared queue for every visitor, and what runs on a worker."""
