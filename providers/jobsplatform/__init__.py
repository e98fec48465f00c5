"""The jobs platform (kind ``jobsplatform``): a container platform whose jobs run to
completion on demand or on a cron schedule; a run is a build holding one job, the run
itself. What its API looks like, what we assume where its docs are silent, and how it
appears in the dashboard: docs/providers/jobsplatform.md.

``client.py`` speaks HTTP, ``mapping.py`` turns its JSON into neutral records,
``adapter.py`` syncs and reads logs, ``actions.py`` and ``panels.py`` declare its buttons
and panels; ``contract.py`` names the wire contract (paths, fields, states) that the
client and the simulator (``sim/``) share, ``schedule.py`` is cron maths and
``charts.py`` draws metric series."""
