"""The page's building blocks that are not ML: charts."""
