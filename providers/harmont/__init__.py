"""Harmont (harmont.dev), Cloud API v0: a build of a pipeline, whose jobs are a DAG.

What the code relies on (paths, fields, enums, paging, error bodies, the log stream, and
our assumptions where Harmont's docs are silent) is in docs/providers/harmont.md.
Modules: ``client`` (HTTP), ``mapping`` (JSON -> records), ``adapter`` (sync and logs),
``logstream`` (reading and painting the SSE log stream), ``actions`` (new build, rebuild,
cancel), ``panels`` (pipeline, build and job panels); ``sim`` is the fake Harmont for
tests and the demo."""
