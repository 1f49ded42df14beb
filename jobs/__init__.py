"""The Spark jobs: transform (raw lines -> events), load (events -> MySQL), metrics (MySQL -> answers)."""
