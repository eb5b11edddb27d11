"""The scale-out job kinds (engine.exec.scale): `ray-apply` and `ray-embed` over sharded files
(shards), and `import-scores`, a Ray apply's Parquet shards into a run (import_scores)."""
