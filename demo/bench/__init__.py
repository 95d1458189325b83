"""The benchmark harness behind `manage.py bench` (`make bench`): issue 14, "An honest benchmark".

Every measured item is timed beside its floor in the same run, behind the same middleware, as the same user:

* `floors` – the floor views: `.values()` JSON over the same rows and columns, mounted only in the benchmark
  (`urls`, `settings`: config's URLs plus `bench-floor/...`);
* `measure` – in-process timing with Django's test Client (full middleware, DEBUG off), measured and floor
  requests alternated, median / p95 / p99 and query counts;
* `items` – what is measured: API lists and list pages first, deep and (verified) last, the heaviest lead and
  customer pages, every metric through the API, the boards;
* `importer` – the CSV import in a process of its own, for its rows/s and its peak memory;
* `load` – gunicorn started here, driven by wrk (`mixed.lua`) with 80 % reads / 20 % writes, and the same
  workload against the floors;
* `report` – the Markdown table, the summary of targets met and missed, bench/results/latest.json and .md.
"""
