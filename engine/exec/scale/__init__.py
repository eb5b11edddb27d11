"""Scale-out: the executor for corpora beyond one workstation, over sharded files outside the
workspace (JSONL, .gz, .zst, Parquet) with Parquet files out, on Ray (a local instance or a
cluster), and the exact keep threshold over those outputs.

- session: importing Ray (with an install hint), connecting, Ray Data's settings;
- shards: which files the inputs name, the output each becomes, counting, reading and writing
  shards, bad data as an error value;
- adapter: the one generic adapter that runs any operators (engine.ops) as a Ray Data actor;
- threshold: the two passes of the exact threshold over the output shards (Ray tasks, or a
  plain loop).

The jobs are engine.jobs.kinds.scale, the use cases engine.api.scale, the verbs engine.cli.scale.
"""

ENGINES = ("local", "ray")  # --engine: the job's own process (or a plain loop), or Ray
