"""speed at scale: sla_month_counts follows a clock's outcome once per statement, not once per clock

0015's row trigger (kept by 0025) took a clock's old numbers from its summary row and added the
new ones for every clock whose ticket, kind or outcome changed: three statements and two new
versions of the same summary row per clock. The SLA sweep records the breaches of a thousand
tickets in one UPDATE of their clocks' outcomes, and on PostgreSQL each of its 2,000 clock rows
then updated the one summary row of their month, client, category and priority again: every
lookup walked the versions left by the ones before it (none can be pruned inside the
transaction), so a batch's UPDATE took 4 to 9 s and grew with every batch (issue 12).

On PostgreSQL the UPDATE trigger is now a statement trigger over the transition tables: the
clocks whose ticket, kind or outcome changed are grouped by summary key, their old numbers are
taken from each key once, a key left at zero is deleted, and their new numbers are added once
(the same order as the row trigger's: take, delete empty, add; the totals are the same sums).
PostgreSQL refuses transition tables on a trigger with a column list, so it fires on every
UPDATE of sla_clocks and returns at once when no clock moved. Inserts and deletes keep 0015's row
trigger (a ticket's two clocks at a time). SQLite keeps its row triggers: its sweep is not slowed
by them (no row versions), and it has no statement triggers.

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-04 23:00:00.000000

"""
import importlib.util
from pathlib import Path

from alembic import op

# revision identifiers, used by Alembic.
revision = '0028'
down_revision = '0027'
branch_labels = None
depends_on = None


def _load(name: str, file: str):
    spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name(file))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


m0015 = _load("_m0015", "0015_sla_month_counts.py")
m0025 = _load("_m0025", "0025_sla_month_counts_by_plan.py")

COUNTS, KEY = m0025.COUNTS, m0025.KEY
# The clocks whose ticket, kind or outcome changed: each clock's old row (side -1) and new row
# (side 1), less the pairs equal in all three (they cancel out). A union and a grouping, not a
# join of the transition tables: the planner takes those for one row each and joined 2,000 x 2,000
# in a nested loop (0.47 s per statement on a database not analysed yet).
_MOVED = ("(SELECT ticket_id, kind, outcome, sum(side) AS side FROM ("
          "SELECT id, ticket_id, kind, outcome, -1 AS side FROM old_clocks UNION ALL "
          "SELECT id, ticket_id, kind, outcome, 1 AS side FROM new_clocks) AS c "
          "GROUP BY id, ticket_id, kind, outcome HAVING sum(side) <> 0) AS m")


def _sums(side: int) -> str:
    """Per summary key, the numbers the moved clocks' old (-1) or new (1) rows count."""
    sums = ", ".join(f"sum({v}) AS {c}" for c, v in zip(COUNTS, m0025._contribution("m", "t.sla_paused_seconds"),
                                                        strict=True))
    return (f"SELECT {m0025.PG_MONTH.format(at='t.created_at')} AS month, t.client_id, t.category, t.priority, "
            f"{m0025._source('t')} AS source, {m0025._plan('t')} AS plan_id, {sums} "
            f"FROM {_MOVED} JOIN tickets t ON t.id = m.ticket_id WHERE m.side = {side} GROUP BY 1, 2, 3, 4, 5, 6")


_ON_KEY = " AND ".join(f"s.{k} = d.{k}" for k in KEY.split(", "))
_TAKE = ", ".join(f"{c} = s.{c} - d.{c}" for c in COUNTS)
_ALL_ZERO = " AND ".join(f"s.{c} = 0" for c in COUNTS)

_PG_FUNCTION = f"""
CREATE FUNCTION sla_month_clocks_moved() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM {_MOVED}) THEN
        RETURN NULL;  -- a due instant or a timestamp changed: nothing the summary counts
    END IF;
    -- A ticket not found is being deleted, and took its numbers with it (as in the row trigger).
    UPDATE sla_month_counts s SET {_TAKE} FROM ({_sums(-1)}) d WHERE {_ON_KEY};
    DELETE FROM sla_month_counts s USING ({_sums(-1)}) d WHERE {_ON_KEY} AND {_ALL_ZERO};
    INSERT INTO sla_month_counts ({KEY}, {', '.join(COUNTS)})
    SELECT {KEY}, {', '.join(COUNTS)} FROM ({_sums(1)}) d
    ON CONFLICT ({KEY}) DO UPDATE SET {m0025._UPSERT_SET};
    RETURN NULL;
END
$$"""

_PG_TRIGGER = """CREATE TRIGGER sla_month_clocks_update AFTER UPDATE ON sla_clocks
       REFERENCING OLD TABLE AS old_clocks NEW TABLE AS new_clocks
       FOR EACH STATEMENT EXECUTE FUNCTION sla_month_clocks_moved()"""


def upgrade():
    if op.get_bind().dialect.name != 'postgresql':
        return
    op.execute("DROP TRIGGER sla_month_clocks_update ON sla_clocks")
    op.execute(_PG_FUNCTION)
    op.execute(_PG_TRIGGER)


def downgrade():
    if op.get_bind().dialect.name != 'postgresql':
        return
    op.execute("DROP TRIGGER sla_month_clocks_update ON sla_clocks")
    op.execute("DROP FUNCTION sla_month_clocks_moved()")
    op.execute(m0015._PG_TRIGGERS[1])  # 0015's row trigger, which 0025 kept
