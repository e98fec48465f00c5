"""prunner (Flowpack/prunner, an embedded task runner): a build is a prunner job, its
jobs are the job's tasks. What the code relies on about prunner's API, and where the
real server differs from its docs, is in docs/providers/prunner.md.

``client`` (HTTP, a JWT per request), ``tokens`` (HS256 JWTs), ``mapping`` (JSON ->
records), ``adapter`` (sync and logs), ``actions`` (schedule, cancel), ``panels``; the
simulator in ``sim/`` is for tests and the demo only."""
