"""Job functions, one module per family of job kinds (see engine.jobs.registry)."""
