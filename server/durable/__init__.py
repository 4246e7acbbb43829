"""Durable workflows with Cloudflare Workflows semantics: scripts and named
workflows (definitions.py), instances and their lifecycle (instances.py,
transitions.py), the step journal (journal.py), activations by replay
(activator.py), and timers, cron schedules and retention (scheduler.py,
cron.py). The step rules themselves are in bindings/ (journal.py, step.py,
stepconfig.py), where the sandbox side of `step` lives."""
