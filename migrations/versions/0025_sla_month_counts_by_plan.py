"""speed at scale: sla_month_counts by plan too (coverage source and support plan in its key)

The SLA report grouped by plan joined every ticket filed in its months to both clocks and, per
ticket, looked up its latest coverage decision's subscription's plan: it grew with the tickets.
Now sla_month_counts also holds the source that set each ticket's SLA (`source`, "" for none)
and, for support-plan tickets, the plan of the latest coverage decision's subscription
(`plan_id`, 0 for none or another source), so the report by plan reads the summary like the
other groupings.

The plan is copied onto the ticket (`tickets.sla_plan_id`, the plan of the latest decision's
subscription) by triggers on coverage_decisions, in the same transaction as the decision; the
summary's triggers (0015's, recreated here with the longer key) follow the ticket's
`sla_source` and `sla_plan_id` as they follow its month, client, category and priority. The
summary is rebuilt from the tickets and clocks, and the tickets' plans from their decisions.

`tickets.sla_plan_id` is added without a batch rebuild (SQLite would drop the triggers of
0013/0015/0016/0017 with the old table). On SQLite a later revision that rebuilds
`coverage_decisions` with batch_alter_table must create its triggers again.

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-04 19:50:00.000000

"""
import importlib.util
from pathlib import Path

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0025'
down_revision = '0024'
branch_labels = None
depends_on = None

_spec = importlib.util.spec_from_file_location("_m0015", Path(__file__).with_name("0015_sla_month_counts.py"))
m0015 = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(m0015)

COUNTS = m0015.COUNTS
PG_MONTH, SQLITE_MONTH = m0015.PG_MONTH, m0015.SQLITE_MONTH
KEY = "month, client_id, category, priority, source, plan_id"


def _source(t: str) -> str:
    return f"coalesce({t}.sla_source, '')"


def _plan(t: str) -> str:
    return f"(CASE WHEN {t}.sla_source = 'support_plan' THEN coalesce({t}.sla_plan_id, 0) ELSE 0 END)"


_contribution = m0015._contribution
_UPSERT_SET = ", ".join(f"{c} = sla_month_counts.{c} + excluded.{c}" for c in COUNTS)
_ALL_ZERO = " AND ".join(f"{c} = 0" for c in COUNTS)

# The plan of a ticket's latest coverage decision's subscription (NULL: none).
_LATEST_PLAN = ("(SELECT s.plan_id FROM coverage_decisions d LEFT JOIN subscriptions s ON s.id = d.subscription_id "
                "WHERE d.ticket_id = {ticket} ORDER BY d.id DESC LIMIT 1)")

# -- PostgreSQL ---------------------------------------------------------------------------------

_PG_FUNCTIONS = (
    f"""
CREATE FUNCTION sla_month_apply(p_created timestamptz, p_client integer, p_category text, p_priority text,
                                p_source text, p_plan integer,
                                p_sign integer, p_kind text, p_outcome text, p_paused bigint)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    m text := {PG_MONTH.format(at="p_created")};
    src text := coalesce(p_source, '');
    pl integer := CASE WHEN p_source = 'support_plan' THEN coalesce(p_plan, 0) ELSE 0 END;
    t integer := 0; fm integer := 0; fd integer := 0; rm integer := 0; rd integer := 0; ps bigint := 0;
BEGIN
    IF p_kind = 'first_response' THEN
        t := p_sign; ps := p_sign * coalesce(p_paused, 0);
        fm := CASE WHEN p_outcome = 'met' THEN p_sign ELSE 0 END;
        fd := CASE WHEN p_outcome IS NOT NULL THEN p_sign ELSE 0 END;
    ELSE
        rm := CASE WHEN p_outcome = 'met' THEN p_sign ELSE 0 END;
        rd := CASE WHEN p_outcome IS NOT NULL THEN p_sign ELSE 0 END;
    END IF;
    IF p_sign > 0 THEN
        INSERT INTO sla_month_counts ({KEY}, {', '.join(COUNTS)})
        VALUES (m, p_client, p_category, p_priority, src, pl, t, fm, fd, rm, rd, ps)
        ON CONFLICT ({KEY}) DO UPDATE SET {_UPSERT_SET};
    ELSE
        UPDATE sla_month_counts SET tickets = tickets + t, first_met = first_met + fm,
            first_decided = first_decided + fd, resolution_met = resolution_met + rm,
            resolution_decided = resolution_decided + rd, paused_seconds = paused_seconds + ps
        WHERE month = m AND client_id = p_client AND category = p_category AND priority = p_priority
          AND source = src AND plan_id = pl;
        DELETE FROM sla_month_counts
        WHERE month = m AND client_id = p_client AND category = p_category AND priority = p_priority
          AND source = src AND plan_id = pl AND {_ALL_ZERO};
    END IF;
END
$$""",
    """
CREATE FUNCTION sla_month_clocks_follow() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE tk record;
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        SELECT created_at, client_id, category, priority, sla_source, sla_plan_id, sla_paused_seconds INTO tk
        FROM tickets WHERE id = OLD.ticket_id;
        IF FOUND THEN  -- not found: the ticket is being deleted, and took its numbers with it
            PERFORM sla_month_apply(tk.created_at, tk.client_id, tk.category, tk.priority, tk.sla_source,
                                    tk.sla_plan_id, -1, OLD.kind, OLD.outcome, tk.sla_paused_seconds);
        END IF;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        SELECT created_at, client_id, category, priority, sla_source, sla_plan_id, sla_paused_seconds INTO tk
        FROM tickets WHERE id = NEW.ticket_id;
        IF FOUND THEN
            PERFORM sla_month_apply(tk.created_at, tk.client_id, tk.category, tk.priority, tk.sla_source,
                                    tk.sla_plan_id, 1, NEW.kind, NEW.outcome, tk.sla_paused_seconds);
        END IF;
    END IF;
    RETURN NULL;
END
$$""",
    """
CREATE FUNCTION sla_month_tickets_follow() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE c record;
BEGIN
    FOR c IN SELECT kind, outcome FROM sla_clocks WHERE ticket_id = OLD.id LOOP
        PERFORM sla_month_apply(OLD.created_at, OLD.client_id, OLD.category, OLD.priority, OLD.sla_source,
                                OLD.sla_plan_id, -1, c.kind, c.outcome, OLD.sla_paused_seconds);
        IF TG_OP = 'UPDATE' THEN
            PERFORM sla_month_apply(NEW.created_at, NEW.client_id, NEW.category, NEW.priority, NEW.sla_source,
                                    NEW.sla_plan_id, 1, c.kind, c.outcome, NEW.sla_paused_seconds);
        END IF;
    END LOOP;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NULL;
END
$$""",
    f"""
CREATE FUNCTION sla_plan_follow() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE tid integer; pl integer;
BEGIN
    IF TG_OP = 'DELETE' THEN tid := OLD.ticket_id; ELSE tid := NEW.ticket_id; END IF;
    pl := {_LATEST_PLAN.format(ticket="tid")};
    UPDATE tickets SET sla_plan_id = pl WHERE id = tid AND sla_plan_id IS DISTINCT FROM pl;
    RETURN NULL;
END
$$""",
)
_TICKET_MOVES = m0015._TICKET_MOVES + (" OR OLD.sla_source IS DISTINCT FROM NEW.sla_source"
                                       " OR OLD.sla_plan_id IS DISTINCT FROM NEW.sla_plan_id")
_PG_TRIGGERS = (
    m0015._PG_TRIGGERS[0],
    m0015._PG_TRIGGERS[1],
    f"""CREATE TRIGGER sla_month_tickets_update AFTER UPDATE OF created_at, client_id, category, priority,
       sla_paused_seconds, sla_source, sla_plan_id ON tickets FOR EACH ROW WHEN ({_TICKET_MOVES})
       EXECUTE FUNCTION sla_month_tickets_follow()""",
    m0015._PG_TRIGGERS[3],
    """CREATE TRIGGER sla_plan_follow AFTER INSERT OR DELETE ON coverage_decisions
       FOR EACH ROW EXECUTE FUNCTION sla_plan_follow()""",
)

# -- SQLite ---------------------------------------------------------------------------------------


def _sqlite_add(clock: str, ticket_id: str) -> str:
    values = ", ".join(_contribution(clock, "t.sla_paused_seconds"))
    return (f"INSERT INTO sla_month_counts ({KEY}, {', '.join(COUNTS)}) "
            f"SELECT {SQLITE_MONTH.format(at='t.created_at')}, t.client_id, t.category, t.priority, "
            f"{_source('t')}, {_plan('t')}, {values} "
            f"FROM tickets t WHERE t.id = {ticket_id} "
            f"ON CONFLICT ({KEY}) DO UPDATE SET {_UPSERT_SET};")


def _sqlite_key(ticket_id: str) -> str:
    return (f"({KEY}) = (SELECT {SQLITE_MONTH.format(at='t.created_at')}, t.client_id, t.category, t.priority, "
            f"{_source('t')}, {_plan('t')} FROM tickets t WHERE t.id = {ticket_id})")


def _sqlite_take(clock: str, ticket_id: str) -> str:
    paused = f"(SELECT sla_paused_seconds FROM tickets WHERE id = {ticket_id})"
    sets = ", ".join(f"{c} = {c} - {v}" for c, v in zip(COUNTS, _contribution(clock, paused), strict=True))
    key = _sqlite_key(ticket_id)
    return (f"UPDATE sla_month_counts SET {sets} WHERE {key}; "
            f"DELETE FROM sla_month_counts WHERE {key} AND {_ALL_ZERO};")


def _sqlite_ticket_take() -> str:
    key = (f"month = {SQLITE_MONTH.format(at='OLD.created_at')} AND client_id = OLD.client_id "
           f"AND category = OLD.category AND priority = OLD.priority AND source = {_source('OLD')} "
           f"AND plan_id = {_plan('OLD')}")
    sets = ", ".join(f"{c} = {c} - {v}" for c, v in zip(COUNTS, m0015._sqlite_ticket_sums("OLD"), strict=True))
    return (f"UPDATE sla_month_counts SET {sets} WHERE {key}; "
            f"DELETE FROM sla_month_counts WHERE {key} AND {_ALL_ZERO};")


def _sqlite_ticket_add() -> str:
    values = ", ".join(m0015._sqlite_ticket_sums("NEW"))
    return (f"INSERT INTO sla_month_counts ({KEY}, {', '.join(COUNTS)}) "
            f"SELECT {SQLITE_MONTH.format(at='NEW.created_at')}, NEW.client_id, NEW.category, NEW.priority, "
            f"{_source('NEW')}, {_plan('NEW')}, {values} "
            f"WHERE EXISTS (SELECT 1 FROM sla_clocks WHERE ticket_id = NEW.id) "
            f"ON CONFLICT ({KEY}) DO UPDATE SET {_UPSERT_SET};")


_SQLITE_TICKET_MOVES = m0015._SQLITE_TICKET_MOVES + (" OR OLD.sla_source IS NOT NEW.sla_source"
                                                     " OR OLD.sla_plan_id IS NOT NEW.sla_plan_id")


def _sqlite_plan_follow(row: str) -> str:
    plan = _LATEST_PLAN.format(ticket=f"{row}.ticket_id")
    return f"UPDATE tickets SET sla_plan_id = {plan} WHERE id = {row}.ticket_id AND sla_plan_id IS NOT {plan};"


_SQLITE_TRIGGERS = (
    f"CREATE TRIGGER sla_month_clocks_insert AFTER INSERT ON sla_clocks BEGIN {_sqlite_add('NEW', 'NEW.ticket_id')} END",
    f"CREATE TRIGGER sla_month_clocks_delete AFTER DELETE ON sla_clocks BEGIN {_sqlite_take('OLD', 'OLD.ticket_id')} END",
    f"""CREATE TRIGGER sla_month_clocks_update AFTER UPDATE OF ticket_id, kind, outcome ON sla_clocks
        WHEN OLD.ticket_id IS NOT NEW.ticket_id OR OLD.kind IS NOT NEW.kind OR OLD.outcome IS NOT NEW.outcome
        BEGIN {_sqlite_take('OLD', 'OLD.ticket_id')} {_sqlite_add('NEW', 'NEW.ticket_id')} END""",
    f"""CREATE TRIGGER sla_month_tickets_update AFTER UPDATE OF created_at, client_id, category, priority,
        sla_paused_seconds, sla_source, sla_plan_id ON tickets WHEN {_SQLITE_TICKET_MOVES}
        BEGIN {_sqlite_ticket_take()} {_sqlite_ticket_add()} END""",
    f"CREATE TRIGGER sla_month_tickets_delete BEFORE DELETE ON tickets BEGIN {_sqlite_ticket_take()} END",
    f"CREATE TRIGGER sla_plan_follow_insert AFTER INSERT ON coverage_decisions BEGIN {_sqlite_plan_follow('NEW')} END",
    f"CREATE TRIGGER sla_plan_follow_delete AFTER DELETE ON coverage_decisions BEGIN {_sqlite_plan_follow('OLD')} END",
)
_PG_FUNCTION_NAMES = ("sla_month_tickets_follow()", "sla_month_clocks_follow()")


def _backfill(month: str) -> str:
    sums = ", ".join(f"sum({v})" for v in _contribution("c", "t.sla_paused_seconds"))
    return (f"INSERT INTO sla_month_counts ({KEY}, {', '.join(COUNTS)}) "
            f"SELECT {month.format(at='t.created_at')} AS m, t.client_id, t.category, t.priority, "
            f"{_source('t')} AS src, {_plan('t')} AS pl, {sums} "
            f"FROM sla_clocks c JOIN tickets t ON t.id = c.ticket_id "
            f"GROUP BY m, t.client_id, t.category, t.priority, src, pl")


def _create_table(with_plan: bool) -> None:
    extra = [sa.Column('source', sa.String(length=30), nullable=False),
             sa.Column('plan_id', sa.Integer(), nullable=False)] if with_plan else []
    key = ['month', 'client_id', 'category', 'priority'] + (['source', 'plan_id'] if with_plan else [])
    op.create_table('sla_month_counts',
    sa.Column('month', sa.String(length=7), nullable=False),
    sa.Column('client_id', sa.Integer(), nullable=False),
    sa.Column('category', sa.String(length=30), nullable=False),
    sa.Column('priority', sa.String(length=10), nullable=False),
    *extra,
    sa.Column('tickets', sa.Integer(), nullable=False),
    sa.Column('first_met', sa.Integer(), nullable=False),
    sa.Column('first_decided', sa.Integer(), nullable=False),
    sa.Column('resolution_met', sa.Integer(), nullable=False),
    sa.Column('resolution_decided', sa.Integer(), nullable=False),
    sa.Column('paused_seconds', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['client_id'], ['clients.id'], name=op.f('fk_sla_month_counts_client_id_clients')),
    sa.PrimaryKeyConstraint(*key, name=op.f('pk_sla_month_counts'))
    )


def _drop_summary(dialect: str, plan_triggers: bool) -> None:
    if plan_triggers:
        if dialect == 'postgresql':
            op.execute("DROP TRIGGER sla_plan_follow ON coverage_decisions")
            op.execute("DROP FUNCTION sla_plan_follow()")
        else:
            op.execute("DROP TRIGGER sla_plan_follow_insert")
            op.execute("DROP TRIGGER sla_plan_follow_delete")
    for name, table in m0015._TRIGGER_NAMES[dialect]:
        op.execute(f"DROP TRIGGER {name} ON {table}" if dialect == 'postgresql' else f"DROP TRIGGER {name}")
    if dialect == 'postgresql':
        for name in _PG_FUNCTION_NAMES:
            op.execute(f"DROP FUNCTION {name}")
        op.execute("DROP FUNCTION sla_month_apply")
    op.drop_table('sla_month_counts')


def upgrade():
    dialect = op.get_bind().dialect.name
    if dialect == 'postgresql':
        op.execute("LOCK TABLE tickets, sla_clocks, coverage_decisions IN SHARE ROW EXCLUSIVE MODE")
    _drop_summary(dialect, plan_triggers=False)
    # Plain ADD COLUMN (no batch): a rebuild of tickets on SQLite would lose its triggers.
    op.add_column('tickets', sa.Column('sla_plan_id', sa.Integer(), nullable=True))
    op.execute(f"UPDATE tickets SET sla_plan_id = {_LATEST_PLAN.format(ticket='tickets.id')}")
    _create_table(with_plan=True)
    if dialect == 'postgresql':
        for statement in (*_PG_FUNCTIONS, *_PG_TRIGGERS):
            op.execute(statement)
        op.execute(_backfill(PG_MONTH))
    else:
        for statement in _SQLITE_TRIGGERS:
            op.execute(statement)
        op.execute(_backfill(SQLITE_MONTH))


def downgrade():
    dialect = op.get_bind().dialect.name
    _drop_summary(dialect, plan_triggers=True)
    op.drop_column('tickets', 'sla_plan_id')
    _create_table(with_plan=False)
    if dialect == 'postgresql':
        for statement in (*m0015._PG_FUNCTIONS, *m0015._PG_TRIGGERS):
            op.execute(statement)
        op.execute(m0015._backfill(PG_MONTH))
    else:
        for statement in m0015._SQLITE_TRIGGERS:
            op.execute(statement)
        op.execute(m0015._backfill(SQLITE_MONTH))
