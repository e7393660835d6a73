"""The sync engine, one idea per sub-package, dependencies pointing down (import contract
`sync-layers`): `kinds` (which operation each job kind runs, handed to the runner at start-up)
> `health` (schedule, reconcile, drift, staleness, back-fill) > `listings` | `intake` (import and
match listings; marketplace pushes and orders in) > `push` (stock outbox, dispatcher, full push)
> `jobs` (job service, runner, progress) > `models` (the engine's tables); `due` (which
organizations the sweeps have work in: one query) imports only `models` and the domains' tables,
and every sweep imports it. Above the domains."""
