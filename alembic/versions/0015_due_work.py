"""Due work found by one query: which organizations the sweeps have work in.

Every worker sweeps every 5 s (pushes due or left behind, webhook events nobody finished, jobs
that lost their worker, scheduled polls and reconciliations, outbound webhooks, stale stock);
each sweep used to open a transaction per organization to look. The tenant tables FORCE
row-level security, so no statement of the app role sees across organizations: this revision
adds, on PostgreSQL,

- `storesync_due_organizations(...)`: SECURITY DEFINER, owned by the role running this migration
  (the tables' owner), EXECUTE for the app role only (not PUBLIC). It returns (organization id,
  kind) pairs and one ('outbox') row with the number of waiting stock pushes and the oldest's
  time, for the outbox gauges: ids and counts, never a row's contents. The timings come in as
  arguments from `storesync.sync.due`, which also holds the SQLite twin of this query.
- `sweep_read`, a SELECT-only policy for the owner itself on each table the function reads (the
  policies are FORCEd on the owner too). The owner owns these tables and could switch their
  row-level security off, so this gives it nothing new; the app role is not the owner (and
  cannot become it), so it still sees only the current organization's rows.
- indexes so that, when nothing is due, the query is a few index probes: outbox rows by status
  (pending, in flight), webhook events failed but still to retry (with statistics on status
  and attempts together, or the planner reads every event that failed for good), jobs queued or
  running, and a store's newest job of a kind (also what `jobs.latest_job` reads on each tick).
  One part grows with the data: the schedule reads every connected store's settings and its
  newest poll and reconciliation (two index probes a store; an unhealthy store, its newest
  back-fill), because polls fall due with time and no row marks them. Measured with 2,000
  idle connected stores: about 20 ms for the whole query, in one statement, against a
  transaction per organization per sweep before.
  Staleness repeats `storesync.sync.health.state`'s out-of-step rules and stock formula in SQL,
  from what can be out of step (outbox rows waiting or failed, listings of stores not syncing).
  On SQLite the indexes only.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-08 10:00:00
"""

from collections.abc import Sequence

from alembic import op

from storesync.settings import get_settings

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen at this revision: the tables the function reads.
READ_TABLES = (
    "channel_allocation",
    "channel_listing",
    "inventory_item",
    "notification",
    "stock_outbox",
    "store",
    "sync_job",
    "webhook_delivery",
    "webhook_event",
    "webhook_subscription",
)
INDEXES = (
    ("stock_outbox", ("status", "available_at")),
    ("webhook_event", ("status", "attempts", "processed_at")),
    ("sync_job", ("status",)),
    ("sync_job", ("store_id", "kind", "created_at", "id")),
)
STATISTICS = "storesync_webhook_event_retry"
SIGNATURE = (
    "storesync_due_organizations(timestamptz, text[], interval, interval, interval, integer, "
    "interval, interval, integer, integer, integer, interval, interval, interval, text)"
)

# A JSON value Python reads as false (`x or default` takes the default).
_FALSY = (
    "({v} IS NULL OR {v} IN ('null'::jsonb, 'false'::jsonb, '0'::jsonb, '\"\"'::jsonb, "
    "'[]'::jsonb, '{{}}'::jsonb))"
)


def _setting(name: str, default: str) -> str:
    """`storesync.sync.health.schedule._setting` in SQL: the number, 0 for null (off), the
    default for a missing or unreadable value, -1 when Python's reading cannot be told here or
    the number is too large to subtract from a date (the store is then taken as due, and the
    tick decides): one store's odd setting must not fail the query for everyone."""
    value = f"raw -> '{name}'"
    return (
        f"CASE WHEN raw IS NULL THEN -1 "
        f"WHEN NOT raw ? '{name}' THEN {default} "
        f"WHEN jsonb_typeof({value}) = 'null' THEN 0 "
        f"WHEN jsonb_typeof({value}) = 'number' AND raw ->> '{name}' ~ '^[0-9]{{1,6}}$' "
        f"THEN (raw ->> '{name}')::integer "
        f"WHEN jsonb_typeof({value}) = 'number' AND raw ->> '{name}' ~ '^[0-9]+$' THEN -1 "
        f"ELSE {default} END"
    )


def _latest(kind: str, needed: str) -> str:
    """A store's newest job of `kind` (`jobs.latest_job`), looked up only when `needed`."""
    return (
        "LEFT JOIN LATERAL (SELECT j.status, j.created_at FROM sync_job j "
        f"WHERE {needed} AND j.store_id = p.id AND j.kind = '{kind}' "
        f"ORDER BY j.created_at DESC, j.id DESC LIMIT 1) {kind} ON true"
    )


def _job_due(kind: str, every: str, first: str | None) -> str:
    """`storesync.sync.health.schedule._due`: none of this kind yet (then `first`, if any, at
    least one interval ago), or the newest ended and was created at least one interval ago."""
    none_yet = "true" if first is None else f"{first} <= p_now - {every}"
    return (
        f"({every} IS NOT NULL AND CASE WHEN {kind}.created_at IS NULL THEN {none_yet} "
        f"ELSE {kind}.status NOT IN ('queued', 'running') "
        f"AND {kind}.created_at <= p_now - {every} END)"
    )


# An unhealthy store's back-fill is tried once per poll interval (the default one if polls are off).
_RETRY_EVERY = "coalesce(p.orders_every, make_interval(mins => p_orders_minutes))"

# `storesync.sync.health.schedule._due_for_store` without the breaker (which is per process):
# a healthy store is due when its last sync is older than `p_missed_polls` intervals (it gets
# marked unhealthy) or a poll or reconciliation is due; an unhealthy one when its trouble has
# lasted `p_notice_after` and was not told yet, or a back-fill is due.
_SCHEDULE = f"""
    WITH connected AS MATERIALIZED (
      SELECT s.organization_id, s.id, s.created_at, s.last_synced_at, s.unhealthy_since,
             s.settings -> 'health' ->> 'notified_for' AS notified_for,
             CASE WHEN {_FALSY.format(v="s.settings")} THEN '{{}}'::jsonb
                  WHEN jsonb_typeof(s.settings) <> 'object' THEN NULL
                  WHEN {_FALSY.format(v="s.settings -> 'schedule'")} THEN '{{}}'::jsonb
                  WHEN jsonb_typeof(s.settings -> 'schedule') = 'object'
                  THEN s.settings -> 'schedule'
             END AS raw
      FROM store s
      WHERE s.status = 'connected'
    ), readings AS MATERIALIZED (
      SELECT c.*, {_setting("orders_minutes", "p_orders_minutes")} AS orders_minutes,
             {_setting("reconcile_hours", "p_reconcile_hours")} AS reconcile_hours
      FROM connected c
    ), p AS MATERIALIZED (
      SELECT r.*,
             r.orders_minutes < 0 OR r.reconcile_hours < 0 AS unreadable,
             CASE WHEN r.orders_minutes > 0 THEN make_interval(mins => r.orders_minutes)
             END AS orders_every,
             CASE WHEN r.reconcile_hours > 0 THEN make_interval(hours => r.reconcile_hours)
             END AS reconcile_every,
             to_char(r.unhealthy_since AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS')
             || CASE WHEN date_trunc('second', r.unhealthy_since) = r.unhealthy_since THEN ''
                     ELSE to_char(r.unhealthy_since AT TIME ZONE 'UTC', '.US') END
             || '+00:00' AS episode
      FROM readings r
    )
    SELECT DISTINCT p.organization_id, 'schedule'::text, NULL::bigint, NULL::timestamptz
    FROM p
    {_latest("orders", "p.unhealthy_since IS NULL AND p.orders_every IS NOT NULL")}
    {_latest("reconcile", "p.unhealthy_since IS NULL AND p.reconcile_every IS NOT NULL")}
    {_latest("backfill", "p.unhealthy_since IS NOT NULL")}
    WHERE p.unreadable
       OR (p.unhealthy_since IS NULL AND (
             (p.orders_every IS NOT NULL
              AND p.last_synced_at < p_now - p_missed_polls * p.orders_every)
          OR {_job_due("orders", "p.orders_every", None)}
          OR {_job_due("reconcile", "p.reconcile_every", "p.created_at")}))
       OR (p.unhealthy_since IS NOT NULL AND (
             (p_now - p.unhealthy_since >= p_notice_after
              AND p.notified_for IS DISTINCT FROM p.episode)
          OR {_job_due("backfill", _RETRY_EVERY, None)}))
"""

# `storesync.sync.health.state.listing_state` over `suspects`, as `staleness.alert_stale` reads
# it: a listing is stale when out of step for longer than `p_stale_after`; its store is due
# unless an unread alert for it from the last `p_alert_repeat` exists.
_STALE = """
    WITH suspect AS (
      SELECT o.listing_id AS id FROM stock_outbox o JOIN store s ON s.id = o.store_id
      WHERE o.status IN ('pending', 'in_progress', 'failed') AND s.status <> 'disconnected'
      UNION
      SELECT l.id FROM channel_listing l JOIN store s ON s.id = l.store_id
      WHERE s.status NOT IN ('connected', 'disconnected') AND l.match_status = 'matched'
    ), state AS (
      SELECT l.organization_id, l.store_id,
             CASE WHEN o.status = 'pending' AND o.attempts > 0
                  THEN coalesce(o.updated_at, o.created_at) - greatest(
                    o.available_at - coalesce(o.updated_at, o.created_at), interval '0')
                  WHEN o.status IN ('pending', 'in_progress', 'failed')
                  THEN coalesce(o.updated_at, o.created_at)
                  WHEN s.unhealthy_since IS NOT NULL
                       AND (l.last_pushed_at IS NULL OR s.unhealthy_since > l.last_pushed_at)
                  THEN s.unhealthy_since
                  ELSE coalesce(l.last_pushed_at, l.updated_at, l.created_at)
             END AS since,
             CASE WHEN o.status IN ('pending', 'in_progress') THEN true
                  ELSE l.last_pushed_quantity IS DISTINCT FROM greatest(
                    CASE WHEN a.location_id IS NULL
                         THEN (SELECT coalesce(sum(i.on_hand - i.reserved), 0)
                               FROM inventory_item i WHERE i.variant_id = l.variant_id)
                         ELSE coalesce((SELECT i.on_hand - i.reserved FROM inventory_item i
                                        WHERE i.variant_id = l.variant_id
                                          AND i.location_id = a.location_id), 0)
                    END * CAST(round(coalesce(a.share_percent, 100) * 100) AS integer) / 10000
                    - coalesce(a.buffer, 0), 0)
             END AS out_of_step
      FROM suspect
      JOIN channel_listing l ON l.id = suspect.id
      JOIN store s ON s.id = l.store_id
      LEFT JOIN stock_outbox o ON o.listing_id = l.id
      LEFT JOIN channel_allocation a ON a.store_id = l.store_id
      WHERE l.match_status = 'matched' AND l.variant_id IS NOT NULL
        AND s.status <> 'disconnected'
    )
    SELECT DISTINCT st.organization_id, 'stale'::text, NULL::bigint, NULL::timestamptz
    FROM state st
    WHERE st.out_of_step AND st.since <= p_now - p_stale_after
      AND NOT EXISTS (
        SELECT 1 FROM notification n
        WHERE n.organization_id = st.organization_id
          AND n.created_at >= p_now - p_alert_repeat
          AND n.kind = p_alert_kind AND n.read_at IS NULL
          AND n.data ->> 'store_id' = st.store_id::text)
"""

_FUNCTION = f"""
CREATE FUNCTION storesync_due_organizations(
    p_now timestamptz,
    p_kinds text[],
    p_stuck_received interval,
    p_stuck_processing interval,
    p_retry_failed interval,
    p_max_event_attempts integer,
    p_worker_lost interval,
    p_requeue interval,
    p_orders_minutes integer,
    p_reconcile_hours integer,
    p_missed_polls integer,
    p_notice_after interval,
    p_stale_after interval,
    p_alert_repeat interval,
    p_alert_kind text
) RETURNS TABLE(organization_id uuid, kind text, waiting bigint, oldest timestamptz)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public AS $fn$
#variable_conflict use_column
BEGIN
  IF 'push' = ANY (p_kinds) THEN
    RETURN QUERY
      SELECT DISTINCT o.organization_id, 'push'::text, NULL::bigint, NULL::timestamptz
      FROM stock_outbox o
      WHERE (o.status = 'pending' AND o.available_at <= p_now)
         OR (o.status = 'in_progress' AND o.locked_until < p_now);
    -- The gauges: rows whose lease lapsed go back to pending as due now.
    RETURN QUERY
      SELECT NULL::uuid, 'outbox'::text, count(*),
             min(CASE WHEN o.status = 'in_progress' AND o.locked_until < p_now THEN p_now
                      ELSE o.available_at END)
      FROM stock_outbox o
      WHERE o.status IN ('pending', 'in_progress');
  END IF;
  IF 'webhooks' = ANY (p_kinds) THEN
    RETURN QUERY
      SELECT DISTINCT e.organization_id, 'webhooks'::text, NULL::bigint, NULL::timestamptz
      FROM webhook_event e
      WHERE (e.status = 'received' AND e.received_at < p_now - p_stuck_received)
         OR (e.status = 'processing' AND e.received_at < p_now - p_stuck_processing)
         OR (e.status = 'failed' AND e.attempts < p_max_event_attempts
             AND e.processed_at < p_now - p_retry_failed);
  END IF;
  IF 'jobs' = ANY (p_kinds) THEN
    RETURN QUERY
      SELECT DISTINCT j.organization_id, 'jobs'::text, NULL::bigint, NULL::timestamptz
      FROM sync_job j
      WHERE (j.status = 'running'
             AND coalesce(j.updated_at, j.started_at, j.created_at) < p_now - p_worker_lost)
         OR (j.status = 'queued' AND coalesce(j.updated_at, j.created_at) < p_now - p_requeue);
  END IF;
  IF 'deliveries' = ANY (p_kinds) THEN
    RETURN QUERY
      SELECT DISTINCT d.organization_id, 'deliveries'::text, NULL::bigint, NULL::timestamptz
      FROM webhook_delivery d JOIN webhook_subscription s ON s.id = d.subscription_id
      WHERE d.status = 'pending' AND d.next_attempt_at <= p_now AND s.status = 'active';
  END IF;
  IF 'schedule' = ANY (p_kinds) THEN
    RETURN QUERY {_SCHEDULE};
  END IF;
  IF 'stale' = ANY (p_kinds) THEN
    RETURN QUERY {_STALE};
  END IF;
END
$fn$
"""


def upgrade() -> None:
    for table, columns in INDEXES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_index(
                batch_op.f(f"ix_{table}_{'_'.join(columns)}"), list(columns), unique=False
            )
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in READ_TABLES:
        op.execute(f"CREATE POLICY sweep_read ON {table} FOR SELECT TO CURRENT_USER USING (true)")
    # Events that failed for good keep status 'failed' forever: without statistics on the two
    # columns together, the planner reads every one of them rather than those still to retry.
    op.execute(f"CREATE STATISTICS {STATISTICS} (mcv) ON status, attempts FROM webhook_event")
    op.execute(_FUNCTION)
    op.execute(f"REVOKE EXECUTE ON FUNCTION {SIGNATURE} FROM PUBLIC")
    role = get_settings().db_app_role
    op.execute(
        f"""
        DO $$
        BEGIN
          IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role.replace("'", "''")}') THEN
            GRANT EXECUTE ON FUNCTION {SIGNATURE} TO "{role.replace('"', '""')}";
          END IF;
        END $$;
        """
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP FUNCTION {SIGNATURE}")
        op.execute(f"DROP STATISTICS {STATISTICS}")
        for table in READ_TABLES:
            op.execute(f"DROP POLICY sweep_read ON {table}")
    for table, columns in reversed(INDEXES):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(batch_op.f(f"ix_{table}_{'_'.join(columns)}"))
