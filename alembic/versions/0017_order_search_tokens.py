"""Order search tokens: the inbox search reads an index instead of every order.

A search used to be `ILIKE '%term%'` on three order columns. Under row-level security PostgreSQL
checks a non-leakproof operator such as ILIKE only after the policy, row by row, so a term that
matched few orders read every order of the organization (5 s at a million). `order_search_token`
holds one row per distinct token of an order (the words of its numbers, customer name, lines'
SKUs and titles, and the parts of words after punctuation) and per order number written
backwards (`tail`), as `storesync.orders.search.tokens` defines them, keyed (organization_id,
tail, token, order_id) with the token in the "C" collation: a search word is a range of that key
(`>=`, `<`: leakproof, so usable in an index under the policy).

Existing orders are back-filled here. On PostgreSQL in SQL, two INSERT .. SELECT per organization
in its row-level security context (the policies are FORCEd on the owner running this), through
`storesync_search_tokens(text)` and `storesync_search_tails(text)`, the tokenizer's SQL twins
(kept: bulk loads use them too; tests keep them equal to the Python ones); the key, foreign key
and index are built after the rows are in. On SQLite (embedded, small) in batches of orders, with
the tokenizer frozen below. Only the order's foreign key: an organization's tokens go with its
orders, and a second key would cost a second check on every token the intake writes.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-09 10:00:00
"""

import re
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from storesync.settings import get_settings

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "order_search_token"
TOKEN_LENGTH = 64
# Python's str.split() whitespace, as a PostgreSQL regular expression class.
_WHITESPACE = r"[\t-\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+"
# ASCII characters other than letters and digits: a part of a word starts after one.
_SEPARATORS = r"\x01-\x2f\x3a-\x40\x5b-\x60\x7b-\x7f"
_PART_STARTS = rf"(?<=[{_SEPARATORS}])(?=[^{_SEPARATORS}])"
# Each word cut where parts start: a token is the word from each cut on. Not STRICT and a single
# SELECT, so PostgreSQL inlines them into the calling query; a token may come more than once.
TOKENIZERS = (
    f"""
CREATE FUNCTION storesync_search_tokens(content text) RETURNS SETOF text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$
SELECT left(array_to_string(r.parts[k:], ''), {TOKEN_LENGTH})
FROM regexp_split_to_table(lower(content), '{_WHITESPACE}') AS w(word)
CROSS JOIN LATERAL regexp_split_to_array(w.word, '{_PART_STARTS}') AS r(parts)
CROSS JOIN LATERAL generate_subscripts(r.parts, 1) AS k
WHERE w.word <> ''
$fn$
""",
    f"""
CREATE FUNCTION storesync_search_tails(numbers text) RETURNS SETOF text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$
SELECT left(reverse(w.word), {TOKEN_LENGTH})
FROM regexp_split_to_table(lower(numbers), '{_WHITESPACE}') AS w(word)
WHERE w.word <> ''
$fn$
""",
)
# The lines' texts are aggregated first: a sub-select in the tokenizer's argument would stop it
# from being inlined (then it costs milliseconds a call).
BACKFILL = f"""
INSERT INTO {TABLE} (organization_id, tail, token, order_id)
SELECT DISTINCT o.organization_id, false, t.token, o.id
FROM sales_order AS o
LEFT JOIN (
    SELECT i.order_id, string_agg(concat_ws(' ', i.sku, i.title), ' ') AS texts
    FROM order_item AS i GROUP BY i.order_id
) AS l ON l.order_id = o.id
CROSS JOIN LATERAL storesync_search_tokens(
    concat_ws(' ', o.order_number, o.platform_order_id, o.customer_name, l.texts)
) AS t(token)
WHERE o.organization_id = storesync_current_org()
"""
BACKFILL_TAILS = f"""
INSERT INTO {TABLE} (organization_id, tail, token, order_id)
SELECT DISTINCT o.organization_id, true, t.token, o.id
FROM sales_order AS o
CROSS JOIN LATERAL storesync_search_tails(concat_ws(' ', o.order_number, o.platform_order_id))
    AS t(token)
WHERE o.organization_id = storesync_current_org()
"""

# Frozen at this revision: `storesync.orders.search.tokens`, for SQLite.
_PART_START = re.compile(
    r"(?<=[\x00-\x2f\x3a-\x40\x5b-\x60\x7b-\x7f])[^\x00-\x2f\x3a-\x40\x5b-\x60\x7b-\x7f]"
)
_SQLITE_BATCH = 2000


def _tokens(*texts: str) -> set[str]:
    found: set[str] = set()
    for text in texts:
        for word in (text or "").lower().split():
            found.add(word[:TOKEN_LENGTH])
            for part in _PART_START.finditer(word):
                found.add(word[part.start() : part.start() + TOKEN_LENGTH])
    return found


def _tails(*numbers: str) -> set[str]:
    return {word[::-1][:TOKEN_LENGTH] for n in numbers for word in (n or "").lower().split()}


def _columns() -> list[sa.Column[Any]]:
    token_type = sa.String(length=TOKEN_LENGTH).with_variant(
        sa.String(length=TOKEN_LENGTH, collation="C"), "postgresql"
    )
    return [
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("tail", sa.Boolean(), nullable=False),
        sa.Column("token", token_type, nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=False),
    ]


_KEY = ["organization_id", "tail", "token", "order_id"]


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        op.create_table(
            TABLE,
            *_columns(),
            sa.ForeignKeyConstraint(
                ["order_id"],
                ["sales_order.id"],
                name=op.f("fk_order_search_token_order_id_sales_order"),
                ondelete="CASCADE",
            ),
            sa.PrimaryKeyConstraint(*_KEY, name=op.f("pk_order_search_token")),
            sqlite_with_rowid=False,
        )
        _create_index()
        _backfill_sqlite()
        return
    for tokenizer in TOKENIZERS:
        op.execute(tokenizer)
    op.create_table(TABLE, *_columns())
    _backfill_postgres()
    op.create_primary_key(op.f("pk_order_search_token"), TABLE, _KEY)
    # Checking the rows already in takes one query over both tables, in which the FORCEd policy
    # would show this role (in no organization) no order: their owner lifts it for the check.
    op.execute("ALTER TABLE sales_order NO FORCE ROW LEVEL SECURITY")
    op.create_foreign_key(
        op.f("fk_order_search_token_order_id_sales_order"),
        TABLE,
        "sales_order",
        ["order_id"],
        ["id"],
        ondelete="CASCADE",
    )
    op.execute("ALTER TABLE sales_order FORCE ROW LEVEL SECURITY")
    _create_index()
    _secure(get_settings().db_app_role)


def _create_index() -> None:
    # Also serves the foreign key's cascade (an order's tokens) and the probes of a search for
    # common words, which walks the inbox newest first and checks each order's tokens; with the
    # organization (the policy's column) the probe reads the index only.
    op.create_index(
        op.f("ix_order_search_token_order_id_tail_token"),
        TABLE,
        ["order_id", "tail", "token"],
        postgresql_include=["organization_id"],
    )


def _backfill_postgres() -> None:
    """INSERT .. SELECT per organization, in its context (the organization table is not
    FORCEd: its owner lists every organization)."""
    bind = op.get_bind()
    organizations = bind.execute(sa.text("SELECT id FROM organization ORDER BY id")).scalars()
    for organization_id in list(organizations):
        bind.execute(
            sa.text("SELECT set_config('app.org_id', :org, true)"), {"org": str(organization_id)}
        )
        bind.execute(sa.text(BACKFILL))
        bind.execute(sa.text(BACKFILL_TAILS))
    bind.execute(sa.text("SELECT set_config('app.org_id', '', true)"))


def _backfill_sqlite() -> None:
    bind = op.get_bind()
    orders = sa.table(
        "sales_order",
        sa.column("id"),
        sa.column("organization_id"),
        sa.column("order_number"),
        sa.column("platform_order_id"),
        sa.column("customer_name"),
    )
    items = sa.table("order_item", sa.column("order_id"), sa.column("sku"), sa.column("title"))
    tokens = sa.table(TABLE, *(sa.column(name) for name in _KEY))
    after: Any = None
    while True:
        query = sa.select(orders).order_by(orders.c.id).limit(_SQLITE_BATCH)
        if after is not None:
            query = query.where(orders.c.id > after)
        batch = bind.execute(query).all()
        if not batch:
            return
        lines: dict[Any, list[str]] = {}
        for order_id, sku, title in bind.execute(
            sa.select(items).where(items.c.order_id.in_([row.id for row in batch]))
        ):
            lines.setdefault(order_id, []).extend((sku, title))
        rows = [
            {
                "organization_id": row.organization_id,
                "tail": tail,
                "token": token,
                "order_id": row.id,
            }
            for row in batch
            for tail, found in (
                (
                    False,
                    _tokens(
                        row.order_number,
                        row.platform_order_id,
                        row.customer_name,
                        *lines.get(row.id, []),
                    ),
                ),
                (True, _tails(row.order_number, row.platform_order_id)),
            )
            for token in found
        ]
        if rows:
            bind.execute(sa.insert(tokens), rows)
        after = batch[-1].id


def _secure(role: str) -> None:
    """Row-level security like every tenant table; the app role reads and writes tokens (they
    are written once, with their order, and go with it)."""
    op.execute(f"ALTER TABLE {TABLE} ENABLE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {TABLE} FORCE ROW LEVEL SECURITY")
    op.execute(
        f"CREATE POLICY tenant_isolation ON {TABLE} "
        "USING (organization_id = storesync_current_org()) "
        "WITH CHECK (organization_id = storesync_current_org())"
    )
    op.execute(
        f"""
        DO $$
        BEGIN
          IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role.replace("'", "''")}') THEN
            GRANT SELECT, INSERT, DELETE ON {TABLE} TO "{role.replace('"', '""')}";
          END IF;
        END $$;
        """
    )


def downgrade() -> None:
    op.drop_table(TABLE)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION storesync_search_tails(text)")
        op.execute("DROP FUNCTION storesync_search_tokens(text)")
