"""Validation of raw tables: every problem found in one pass (missing tables or columns,
unparseable values, negative amounts, duplicate keys, backwards subscriptions, unknown
accounts, timestamps after the data's end, campaigns with one arm only), and the canonically
typed tables."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from churnlab.data.dataset import (
    MAX_EXAMPLES,
    DataValidationError,
    Problem,
    renewal_starts,
    renewals_replaced,
)
from churnlab.data.engines import materialize
from churnlab.data.inactivity import ChurnRule, activity_spells
from churnlab.data.schema import (
    BILLING_PERIOD_WORDS,
    COMMA_LOCALE_GROUPS,
    CURRENCY_SYMBOLS,
    TABLES,
    TableSchema,
)

log = logging.getLogger(__name__)


def _sql_literal(value: Any) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)) or value is pd.NaT:
        return "null"
    if isinstance(value, pd.Timestamp):
        return value.isoformat(sep=" ")
    if isinstance(value, str):
        return repr(value)
    return str(value)


# annual rows with this many times the monthly rows' MRR of a plan: the annual price as MRR
ANNUAL_PRICE_RATIO = 6


class Validator:
    """Collects every problem of a raw dataset, then returns the canonically typed tables."""

    def __init__(
        self,
        con: Any,
        raw: dict[str, ir.Table],
        source: str,
        observed_until: Any,
        epoch_unit: str | None = None,
        churn_rule: ChurnRule | None = None,
        separators: dict[str, str] | None = None,
    ):
        self.con = con
        self.raw = raw
        self.source = source
        # what numbers in timestamp columns count (dataset.json "epoch_unit"); None: a problem
        self.epoch_unit = epoch_unit
        # churn read from activity (dataset.json "churn"), for a dataset without subscriptions
        self.churn_rule = churn_rule
        # the field separator of each table read from text (";", "\t", ","): numbers in a
        # table separated by semicolons or tabs may be written with a decimal comma
        self.separators = separators or {}
        self.problems: list[Problem] = []
        self.notices: list[str] = []
        # event types found only on events left out for having no account (Sparkify's Login,
        # logged before sign-in): a mapping that names one is told why no account has it
        self.anonymous_types: tuple[str, ...] = ()
        self._derive_signup = False  # an accounts table without signup_at
        self.observed_until = pd.Timestamp(observed_until) if observed_until is not None else None
        self.typed: dict[str, ir.Table] = {}
        # (table, timestamp column) -> its latest value, from the per-table checks: a table
        # whose latest value is not after the data's end needs no query for later ones
        self._latest: dict[tuple[str, str], Any] = {}

    # -- helpers -------------------------------------------------------------------------------
    def _problem(self, table: str, column: str | None, message: str, examples=()) -> None:
        self.problems.append(Problem(table, column, message, tuple(examples)))

    def _examples(self, table: ir.Table, cond: ir.BooleanValue, show: Iterable[str]) -> list[str]:
        show = list(dict.fromkeys(c for c in show if c in table.columns))
        rows = self.con.execute(table.filter(cond).select(*show).limit(MAX_EXAMPLES))
        return [
            " ".join(f"{c}={_sql_literal(v)}" for c, v in zip(show, row, strict=True))
            for row in rows.itertuples(index=False)
        ]

    def _aggregate(self, table: ir.Table, exprs: dict[str, ir.Scalar]) -> dict[str, Any]:
        """Several aggregates of ``table`` in one query (one scan: on Spark one job)."""
        if not exprs:
            return {}
        row = self.con.execute(table.aggregate(**exprs)).iloc[0]
        return {k: row[k] for k in exprs}

    @staticmethod
    def _counts(conds: dict[str, ir.BooleanValue]) -> dict[str, ir.Scalar]:
        return {k: c.cast("int64").sum().coalesce(0) for k, c in conds.items()}

    def _count_many(self, table: ir.Table, conds: dict[str, ir.BooleanValue]) -> dict[str, int]:
        return {k: int(v) for k, v in self._aggregate(table, self._counts(conds)).items()}

    def _key_cols(self, schema: TableSchema) -> list[str]:
        """The columns that point at a row in examples: the table's key; for a table without
        one (events, surveys), the account and the row's time, so that five examples of one
        account are five rows the user can find, not one id five times."""
        if schema.shown:
            return list(schema.shown)
        return list(schema.key) if schema.key else ["account_id", *schema.timestamp_columns[:1]]

    @staticmethod
    def _present_key(schema: TableSchema, typed: ir.Table) -> list[str]:
        """The key columns ``typed`` has: all of them, except that an optional column of a
        subscriptions key may be absent."""
        return [k for k in schema.key if k in typed.columns or schema.column(k).required]

    # -- steps ---------------------------------------------------------------------------------
    def run(self) -> dict[str, ir.Table]:
        for name, schema in TABLES.items():
            if name not in self.raw:
                if (
                    self.churn_rule
                    and self.churn_rule.from_activity
                    and name
                    in (
                        "accounts",
                        "subscriptions",
                    )
                ):
                    continue  # made from the events (:meth:`_derive_from_activity`)
                if schema.required:
                    self._problem(name, None, "required table is missing")
                else:
                    self.notices.append(f"table {name} not found: {schema.when_missing}")
                continue
            self._check_table(schema, self.raw[name])
        if "truth" in self.raw:
            self.typed["truth"] = self.raw["truth"]
        self._without_empty_rollups()
        if self.churn_rule and self.churn_rule.from_activity:
            self._derive_from_activity()
        # cross-table checks need the required tables' structure; bad values inside them are
        # already reported and read as nulls, so checking on still finds every other problem
        if all(name in self.typed for name, s in TABLES.items() if s.required):
            self._unify_id_types()
            if self._derive_signup:
                self._derive_signups()
            self._resolve_observed_until()
            self._check_relations()
        if self.problems:
            raise DataValidationError(self.source, self.problems)
        return self.typed

    def _without_empty_rollups(self) -> None:
        """A rolled-up log's rows of no event (``count`` 0) left out: they are no activity (no
        active day, no last event, no return from inactivity)."""
        events = self.typed.get("events")
        if events is not None and "count" in events.columns:
            empty = int(self.con.execute((events["count"] == 0).sum()) or 0)
            if empty:
                self.notices.append(
                    f"events: {empty:,} row(s) with a count of 0 (no event) are left out"
                )
            self.typed["events"] = events.filter(events["count"] > 0)

    def _check_table(self, schema: TableSchema, raw: ir.Table) -> None:
        if not self._check_columns_present(schema, raw):
            return
        raw = self._integer_ids(schema, raw)
        comma, mixed = self._decimal_comma_columns(schema, raw)
        orders = self._date_orders(schema, raw)
        typed, parse_fail, written = _typed_table(schema, raw, self.epoch_unit, comma, orders)
        offsets = _offset_conditions(schema, raw)
        written = {f"{col}__written": cond for col, cond in written.items()}
        # the rows, the values that did not parse, the amounts written for people and the
        # timestamp texts with and without an offset in one scan of the raw table
        counts = self._aggregate(
            raw, {_ROWS: raw.count(), **self._counts({**parse_fail, **offsets, **written})}
        )
        counts = {k: int(v) for k, v in counts.items()}
        if counts[_ROWS] == 0:
            if schema.required:
                self._problem(schema.name, None, "table is empty")
            else:  # a snapshot with no tickets (or surveys, campaigns) this time: none
                self.notices.append(f"{schema.name}: no rows (read as none)")
                self.typed[schema.name] = typed
            return
        bad_parse = self._check_parse_failures(schema, raw, parse_fail, counts, mixed)
        self._note_written_amounts(schema, raw, written, counts, comma)
        self._check_mixed_offsets(schema, raw, offsets, counts)
        if schema.name in self.separators and self.con.name == "duckdb":
            # a table read from text, typed once: every later check and every builder would
            # parse its timestamps and numbers from text again (a 800k-row CSV's validation
            # spent 10 s of 16 in the unknown-accounts check doing so)
            typed = materialize(self.con, typed, f"_churnlab_typed_{schema.name}", compress=True)
        if self._check_value_ranges(schema, typed, bad_parse, counts[_ROWS]):
            # anonymous and untyped events left out
            typed = typed.filter(typed.account_id.notnull() & typed.event_type.notnull())
        if schema.name == "events" and "session_id" in typed.columns:
            typed = self._usable_session_ids(typed)
        if schema.name == "events" and "event_id" in typed.columns:
            typed = _usable_event_ids(typed)
        self._check_duplicate_keys(schema, typed, bad_parse)
        self.typed[schema.name] = typed

    def _usable_session_ids(self, events: ir.Table) -> ir.Table:
        """``events`` with the session ids that name no session missing: a negative number
        (Amplitude writes -1 for an event outside a session; one value shared by every user
        is no session) and an empty one. A notice counts the events without a session id and
        says how they are read (:func:`churnlab.features.cube.sessions_expr`)."""
        sid = events.session_id
        if sid.type().is_numeric():
            none = sid.isnull() | (sid < 0)
        else:
            text = sid.cast("string").strip()
            none = (
                sid.isnull()
                | (text == "")
                | text.lower().isin(MISSING_TEXT)
                | text.re_search(r"^-\d+(\.\d*)?$")
            )
        counts = self._aggregate(events, {"rows": events.count(), "none": none.sum()})
        rows, n_none = int(counts["rows"] or 0), int(counts["none"] or 0)
        what = (
            "session_id empty, or -1 or another negative number, as Amplitude writes for an "
            "event outside a session"
        )
        if n_none and n_none == rows:
            self.notices.append(
                f"events: no event has a session id ({what}): sessions come from inactivity "
                "gaps (session_gap_minutes), as without a session_id column"
            )
        elif n_none:
            self.notices.append(
                f"events: {n_none:,} of {rows:,} events ({n_none / rows:.0%}) have no session "
                f"id ({what}): read as in no session on a day when the same user has events "
                "with a session id (out-of-session events, such as server-side ones); on a day "
                "without any, that user's sessions come from inactivity gaps "
                "(session_gap_minutes), as without a session_id column"
            )
        return events.mutate(session_id=ibis.ifelse(none, ibis.null(sid.type()), sid))

    def _check_columns_present(self, schema: TableSchema, raw: ir.Table) -> bool:
        """Report missing required columns, note missing optional ones; False if any required.
        An accounts table without ``signup_at`` is not a problem: it is derived later
        (:meth:`_derive_signups`)."""
        missing = [c for c in schema.required_columns if c not in raw.columns]
        if schema.name == "accounts" and missing == ["signup_at"]:
            self._derive_signup = True
            missing = []
        has = ", ".join(map(str, raw.columns[:12])) + (", ..." if len(raw.columns) > 12 else "")
        for col in missing:
            wide = ""
            if (schema.name, col) == ("events", "event_type"):
                wide = (
                    "; a table with a count column per measure (num_25, num_100) lists them: "
                    '"columns": {"events": {"count": ["num_25", "num_100"]}}'
                )
            self._problem(
                schema.name,
                col,
                f"required column is missing (the table has {has}; where it names it otherwise, "
                f'say so in dataset.json: "columns": {{"{schema.name}": {{"{col}": "its_name"}}}}'
                f"{wide})",
            )
        optional_missing = [
            c.name
            for c in schema.columns
            if not c.required and c.noticed_missing and c.name not in raw.columns
        ]
        if optional_missing:
            self.notices.append(
                f"{schema.name}: optional column(s) {', '.join(optional_missing)} not found: "
                "features that need them are skipped"
            )
        return not missing

    def _check_parse_failures(
        self,
        schema: TableSchema,
        raw: ir.Table,
        parse_fail: dict[str, ir.BooleanValue],
        counts: dict[str, int],
        mixed: dict[str, tuple[ir.BooleanValue, ir.BooleanValue]] | None = None,
    ) -> set[str]:
        """Report values that did not parse (``counts``: per column, how many); the columns
        with any, whose later checks are moot. ``mixed``: the columns of a table separated
        by semicolons or tabs holding numbers with a decimal comma beside numbers with a
        decimal point (:meth:`_decimal_comma_columns`), whose problem names both."""
        key_show = self._key_cols(schema)
        for col in parse_fail:
            if n := counts[col]:
                ex = self._examples(raw, parse_fail[col], [*key_show, col])
                what = _parse_failure(schema.column(col).kind, raw[col].type(), self.epoch_unit)
                if mixed and col in mixed:
                    what += self._mixed_decimals(raw, col, *mixed[col])
                self._problem(schema.name, col, f"{n} {what}", ex)
        return {c for c in parse_fail if counts[c]}

    def _mixed_decimals(
        self, raw: ir.Table, col: str, comma: ir.BooleanValue, point: ir.BooleanValue
    ) -> str:
        """Why a column's decimal commas were not read: an example of each kind of value."""
        shown = [
            self.con.execute(raw.filter(cond).select(col).limit(1))[col].iloc[0]
            for cond in (comma, point)
        ]
        return (
            f"; the column mixes numbers written with a decimal comma ({shown[0]!r}) and with a "
            f"decimal point ({shown[1]!r}): a column is read with decimal commas only when "
            "none of its numbers has a decimal point; write them alike"
        )

    def _decimal_comma_columns(
        self, schema: TableSchema, raw: ir.Table
    ) -> tuple[list[str], dict[str, tuple[ir.BooleanValue, ir.BooleanValue]]]:
        """The number columns of a text table separated by semicolons or tabs to read with a
        decimal comma (:func:`_comma_amount`), decided per column from all its values (one
        scan), as a customer table decides: some value must be written so (a decimal comma;
        with semicolons also dots or spaces between groups of three digits, ``42.692``; with
        tabs a comma that cannot be a thousands comma, ``12,50`` not ``1,250``) and none may
        read only with a decimal point (``12.5``, ``$1,500.00``). Values that are no number
        either way (``abc``) do not decide: they are reported as unparseable. Also the
        columns that mix both kinds, with the conditions marking each."""
        sep = self.separators.get(schema.name)
        if sep not in (";", "\t"):
            return [], {}
        cols = [
            c.name
            for c in schema.columns
            if c.kind in ("float", "int")
            and c.name in raw.columns
            and raw[c.name].type().is_string()
        ]
        decides = _COMMA_DECIDES[sep]
        conds: dict[str, tuple[ir.BooleanValue, ir.BooleanValue]] = {}
        for col in cols:
            text = _present_text(raw[col])
            comma = text.re_search(_COMMA_AMOUNT)
            number = text.try_cast("float64")
            point = (number.notnull() & _finite(number)) | _written_amount(text).notnull()
            conds[col] = (comma & text.re_search(decides), text.notnull() & point & ~comma)
        flat = {f"{c}__comma": comma for c, (comma, _) in conds.items()}
        flat |= {f"{c}__point": point for c, (_, point) in conds.items()}
        counts = self._count_many(raw, flat)
        comma_cols = [c for c in cols if counts[f"{c}__comma"] and not counts[f"{c}__point"]]
        mixed = {c: conds[c] for c in cols if counts[f"{c}__comma"] and counts[f"{c}__point"]}
        return comma_cols, mixed

    def _date_orders(self, schema: TableSchema, raw: ir.Table) -> dict[str, str]:
        """The timestamp columns held as text with dates written 13.01.2025 or 01/13/2025
        (:data:`OTHER_DATE`) whose values decide the order, as a customer table decides
        (:func:`churnlab.data.single_table.date_order`): some first field above 12 and no
        second one is day first, the other way round month first; one scan. A notice per
        column says how it was read; an undecided column stays a parse problem."""
        cols = [
            c for c in schema.timestamp_columns if c in raw.columns and raw[c].type().is_string()
        ]
        conds = {}
        for col in cols:
            text = _present_text(raw[col]).upper()
            shaped = text.re_search(OTHER_DATE)
            first = text.re_extract(r"^(\d{1,2})", 1).try_cast("int64")
            second = text.re_extract(r"^\d{1,2}[./](\d{1,2})", 1).try_cast("int64")
            conds[f"{col}__other"] = shaped
            conds[f"{col}__day"] = shaped & (first > 12)
            conds[f"{col}__month"] = shaped & (second > 12)
        if not conds:
            return {}
        counts = self._count_many(raw, conds)
        orders = {}
        for col in cols:
            day, month = counts[f"{col}__day"] > 0, counts[f"{col}__month"] > 0
            if not counts[f"{col}__other"] or day == month:
                continue
            order = "day_first" if day else "month_first"
            orders[col] = order
            deciding = conds[f"{col}__day" if day else f"{col}__month"]
            example = self.con.execute(raw.filter(deciding).select(col).limit(1))[col].iloc[0]
            read = self.con.execute(_other_date(ibis.literal(example.strip().upper()), order))
            shown = f"{example.strip()!r}" + (f" is {read:%Y-%m-%d}" if pd.notna(read) else "")
            said = "day first (dd.mm.yyyy, dd/mm/yyyy)" if day else "month first (mm/dd/yyyy)"
            self.notices.append(
                f"{schema.name}.{col}: {counts[f'{col}__other']:,} date(s) read {said}, as "
                f"the column's values decide ({shown}: a {'day' if day else 'month'} above 12, "
                f"and no {'month' if day else 'day'} is)"
            )
        return orders

    def _note_written_amounts(
        self,
        schema: TableSchema,
        raw: ir.Table,
        conds: dict[str, ir.BooleanValue],
        counts: dict[str, int],
        comma: list[str] = (),
    ) -> None:
        """A notice per amount column with values written for people (``$15.99``,
        ``2,644.32``): read as numbers, as a customer table's are; and per column read with
        decimal commas (``comma``), what was read so."""
        for key, cond in conds.items():
            if n := counts[key]:
                col = key.rsplit("__", 1)[0]
                ex = self.con.execute(raw.filter(cond).select(col).limit(2))[col].tolist()
                shown = ", ".join(map(repr, ex))
                if col in comma:
                    by = "semicolons" if self.separators[schema.name] == ";" else "tabs"
                    self.notices.append(
                        f"{schema.name}.{col}: {n} value(s) written with a decimal comma or "
                        f"thousands dots read as numbers (e.g. {shown}): fields are separated "
                        f"by {by} and no value "
                        "of the column has a decimal point, so its commas are decimal "
                        "separators and dots or spaces between groups of three digits "
                        "thousands separators (1.234,5 as 1234.5)"
                    )
                    continue
                self.notices.append(
                    f"{schema.name}.{col}: {n} value(s) written with a currency symbol or "
                    f"thousands separators read as numbers (e.g. {shown})"
                )

    def _check_mixed_offsets(
        self,
        schema: TableSchema,
        raw: ir.Table,
        conds: dict[str, ir.BooleanValue],
        counts: dict[str, int],
    ) -> None:
        """Timestamp text where some values carry a UTC offset and others do not: the naive
        ones would be read as UTC, which is a guess (``conds`` and ``counts``: the texts with
        and without an offset, from :func:`_offset_conditions`)."""
        for col in dict.fromkeys(k.rsplit("__", 1)[0] for k in conds):
            aware, naive = counts[f"{col}__aware"], counts[f"{col}__naive"]
            if aware and naive:
                ex = self._examples(raw, conds[f"{col}__naive"], [*self._key_cols(schema), col])
                self._problem(
                    schema.name,
                    col,
                    f"mixed timestamps: {aware} with a UTC offset, {naive} without (give every "
                    "value an offset, or none: values without one are read as UTC)",
                    ex,
                )

    def _check_value_ranges(
        self, schema: TableSchema, typed: ir.Table, bad_parse: set[str], rows: int
    ) -> bool:
        """Nulls in required columns and values below the minimum or above the maximum.
        Events without an account (anonymous: before sign-in, a logged-out visitor) are not a
        problem but a notice: whether they are to be left out (True)."""
        conds: dict[str, ir.BooleanValue] = {}
        messages: dict[str, tuple[str, str]] = {}
        for col in schema.columns:
            if col.name not in typed.columns or col.name in bad_parse:
                continue
            v = typed[col.name]
            if not col.nullable:
                conds[f"{col.name}__null"] = v.isnull()
                messages[f"{col.name}__null"] = (col.name, "null values in a required column")
            if col.min_value is not None:
                conds[f"{col.name}__min"] = v < col.min_value
                label = "negative values" if col.min_value == 0 else f"values below {col.min_value}"
                messages[f"{col.name}__min"] = (col.name, label)
            if col.max_value is not None:
                conds[f"{col.name}__max"] = v > col.max_value
                messages[f"{col.name}__max"] = (
                    col.name,
                    f"values outside {col.min_value:g}-{col.max_value:g}",
                )
            if col.name in schema.timestamp_columns:
                # a missing time some export wrote as 0: an account's tenure would start in 1970
                conds[f"{col.name}__epoch"] = v == EPOCH_ZERO
                messages[f"{col.name}__epoch"] = (
                    col.name,
                    "timestamps at exactly 1970-01-01 00:00:00, a missing time written as 0 "
                    + (
                        "(write it empty)" if col.nullable else "(give the time, or remove the row)"
                    ),
                )
        unknown = {
            col.name: typed[col.name].notnull() & ~typed[col.name].isin(col.allowed)
            for col in schema.columns
            if col.allowed and col.name in typed.columns and col.name not in bad_parse
        }
        latest = {
            f"{c}__latest": typed[c].max() for c in schema.timestamp_columns if c in typed.columns
        }
        timed = {}
        if (
            schema.name == "events"
            and "duration_s" in typed.columns
            and "duration_s" not in bad_parse
        ):
            d = typed.duration_s
            timed = {"timed__n": (d > 0).sum(), "timed__day": (d > SECONDS_PER_DAY).sum()}
        # one scan: the range checks, the values outside an allowed set, the latest timestamps
        found = self._aggregate(
            typed, {**self._counts(conds), **self._counts(unknown), **latest, **timed}
        )
        for c in latest:
            self._latest[(schema.name, c.removesuffix("__latest"))] = found[c]
        if timed:
            self._note_long_durations(int(found["timed__n"] or 0), int(found["timed__day"] or 0))
        self._note_unknown_values(schema, typed, [c for c in unknown if int(found[c])])
        return self._report_ranges(schema, typed, conds, messages, found, rows)

    def _note_long_durations(self, timed: int, over_a_day: int) -> None:
        """A notice where at least a tenth of the timed events last more than a day: nearly
        always a duration in milliseconds mapped as ``duration_s`` (a 3-minute song is
        180,000), which time on task and session lengths would read as days."""
        if timed and over_a_day >= 0.1 * timed:
            self.notices.append(
                f"events.duration_s: {over_a_day:,} of {timed:,} timed events last more than a "
                "day; if the column holds milliseconds, write it in seconds (divide by 1,000): "
                "time on task and session lengths read it as seconds"
            )

    def _report_ranges(
        self,
        schema: TableSchema,
        typed: ir.Table,
        conds: dict[str, ir.BooleanValue],
        messages: dict[str, tuple[str, str]],
        found: dict[str, Any],
        rows: int,
    ) -> bool:
        """A problem per range check that found rows; events without an account, or (some, not
        all) without a type, a notice instead (True: leave them out)."""
        key_show = self._key_cols(schema)
        anonymous = untyped = 0
        for key in conds:
            if not (n := int(found[key])):
                continue
            if (schema.name, key) == ("events", "account_id__null"):
                anonymous = n
                continue
            if (schema.name, key) == ("events", "event_type__null") and n < rows:
                untyped = n
                continue
            col, label = messages[key]
            ex = self._examples(typed, conds[key], [*key_show, col])
            self._problem(schema.name, col, f"{n} {label}", ex)
        if anonymous:
            self.anonymous_types = _only_anonymous_types(typed)
            only = self.anonymous_types
            self.notices.append(
                f"events: {anonymous:,} event(s) without an account_id ({anonymous / rows:.1%} of "
                "the events: anonymous, e.g. before sign-in) are left out"
                + (
                    f"; type(s) found only there: {', '.join(map(repr, only[:10]))}"
                    + (f" and {len(only) - 10} more" if len(only) > 10 else "")
                    if only
                    else ""
                )
            )
        if untyped:
            ex = self._examples(typed, typed.event_type.isnull(), key_show)
            self.notices.append(
                f"events: {untyped:,} event(s) without an event_type ({untyped / rows:.1%} of the "
                f"events, e.g. {'; '.join(ex[:3])}) are left out"
            )
        return bool(anonymous or untyped)

    def _note_unknown_values(self, schema: TableSchema, typed: ir.Table, cols: list[str]) -> None:
        """Values outside a column's allowed set (in ``cols``) are kept, with a notice."""
        for name in cols:
            col = schema.column(name)
            if col.allowed:
                v = typed[col.name]
                other = self.con.execute(
                    typed.filter(v.notnull() & ~v.isin(col.allowed))
                    .select(col.name)
                    .distinct()
                    .limit(5)
                )
                if len(other):
                    self.notices.append(
                        f"{schema.name}.{col.name}: values {sorted(other[col.name].astype(str))} "
                        f"are not among {list(col.allowed)}; they are kept but no feature uses them"
                    )

    def _check_duplicate_keys(
        self, schema: TableSchema, typed: ir.Table, bad_parse: set[str]
    ) -> None:
        """Rows sharing the table's key (skipped when a key column failed to parse)."""
        key = self._present_key(schema, typed)
        if not key or not all(k in typed.columns for k in key) or bad_parse & set(key):
            return
        dup = typed.group_by(key).agg(n=typed.count()).filter(lambda t: t.n > 1)
        n_dup = int(self.con.execute(dup.count()))
        if n_dup:
            rows = self.con.execute(dup.order_by(key).limit(MAX_EXAMPLES))
            ex = [
                " ".join(f"{k}={_sql_literal(r[k])}" for k in key) + f" ({r['n']} rows)"
                for _, r in rows.iterrows()
            ]
            self._problem(schema.name, ",".join(key), f"{n_dup} duplicate key(s)", ex)

    def _integer_ids(self, schema: TableSchema, raw: ir.Table) -> ir.Table:
        """Text ids that are all whole numbers written plainly (as CSV gives them) become
        integers, ``1.0`` too (pandas writes an id column with a blank in it as floats); ids
        with leading zeros (``00123``, as CRMs and ERPs write customer numbers) or a plus sign
        stay text, so scores join back to the user's own ids."""
        casts = {}
        for col in schema.columns:
            if col.kind == "id" and col.name in raw.columns and raw[col.name].type().is_string():
                text = raw[col.name].strip()
                text = ibis.ifelse(
                    text.re_search(r"^[1-9]\d*\.0+$") | text.re_search(r"^0\.0+$"),
                    text.re_replace(r"\.0+$", ""),
                    text,
                )
                as_int = text.try_cast("int64")
                written = as_int.isnull() | (as_int.cast("string") != text)
                n_bad = self._count_many(raw, {"x": text.notnull() & written})["x"]
                if n_bad == 0:
                    casts[col.name] = as_int
        return raw.mutate(**casts) if casts else raw

    def _unify_id_types(self) -> None:
        """Ids may be integers or strings; when tables disagree, compare them as strings."""
        types = {
            name: t.account_id.type() for name, t in self.typed.items() if "account_id" in t.columns
        }
        if len({str(t) for t in types.values()}) > 1:
            self.notices.append(
                "account_id has different types across tables "
                f"({', '.join(f'{k}: {v}' for k, v in types.items())}); compared as strings"
            )
            for name in types:
                t = self.typed[name]
                self.typed[name] = t.mutate(account_id=t.account_id.cast("string"))

    def _derive_signups(self) -> None:
        """Sign-ups for an accounts table without them (a CRM or billing export that keeps no
        creation date): each account's first subscription start or first event, whichever is
        earlier. Known at that moment, so point in time; an account with neither has none (and,
        without a subscription, is never active)."""
        subs, acc = self.typed["subscriptions"], self.typed["accounts"]
        first = subs.group_by("account_id").agg(_sub=subs.started_at.min())
        acc = acc.left_join(first, "account_id").select(*acc.columns, "_sub")
        signup = acc._sub
        if "events" in self.typed:
            ev = self.typed["events"]
            seen = ev.group_by("account_id").agg(_ev=ev.ts.min())
            acc = acc.left_join(seen, "account_id").select(*acc.columns, "_ev")
            signup = ibis.least(acc._sub, acc._ev)
        self.typed["accounts"] = acc.mutate(signup_at=signup).drop(
            *[c for c in ("_sub", "_ev") if c in acc.columns]
        )
        self.notices.append(
            "accounts: no signup_at column: each account's sign-up is taken as its first "
            "subscription start or first event, whichever is earlier"
        )

    def _derive_from_activity(self) -> None:
        """Subscriptions (and, where the dataset has none, accounts) made from the events by
        the churn rule (:mod:`churnlab.data.inactivity`). A dataset that has a subscriptions
        table reads churn from it: both at once is a problem, and so is a churn event type
        the log never holds."""
        if "subscriptions" in self.raw:
            self._problem(
                "dataset.json",
                "churn",
                "this dataset has a subscriptions table, which says when accounts churn; "
                "remove one of the two",
            )
            return
        if "events" not in self.typed or ("accounts" in self.raw and "accounts" not in self.typed):
            return  # their own problems are reported
        events = self.typed["events"]
        if self.churn_rule.events:
            found = events.filter(events.event_type.isin(list(self.churn_rule.events)))
            seen = set(self.con.execute(found.select("event_type").distinct()).event_type)
            missing = [e for e in self.churn_rule.events if e not in seen]
            if missing:
                self._problem(
                    "dataset.json",
                    "churn",
                    f"events: no event of type {missing} in the events (the log's own event "
                    "types, matched exactly)",
                )
                return
        self._resolve_observed_until()
        self._unify_id_types()
        events = self.typed["events"]
        if "accounts" in self.typed:  # only the events of known accounts make spells
            events = events.semi_join(self.typed["accounts"].select("account_id"), "account_id")
        else:
            self.typed["accounts"] = events.group_by("account_id").agg(signup_at=events.ts.min())
            self.notices.append(
                "accounts: no accounts table: the accounts are those of the events, each "
                "signed up at its first event"
            )
        spells = activity_spells(events, self.churn_rule, self.observed_until)
        self.typed["subscriptions"] = materialize(self.con, spells, "_churnlab_activity_spells")
        self.notices.append(
            "subscriptions: none in this dataset; churn is read from activity (dataset.json "
            "churn): an account is active from its first event until it churns, "
            f"{self.churn_rule.describe()}, and is active again from its next event; MRR is "
            "unknown (0)"
        )
        if not self.churn_rule.inactive_days:
            self._note_silent_actives(events)

    def _note_silent_actives(self, events: ir.Table) -> None:
        """With churn read from cancel events alone, an account that stops using the product
        without cancelling stays active, a non-churner at every later cutoff and scored as a
        customer: a notice counts those silent for :data:`SILENT_DAYS` at the data's end."""
        spells = self.typed["subscriptions"]
        active = spells.filter(spells.ended_at.isnull()).select("account_id")
        last = events.group_by("account_id").agg(last=events.ts.max())
        since = ibis.literal(self.observed_until.to_pydatetime()) - ibis.interval(days=SILENT_DAYS)
        silent = active.join(last, "account_id").filter(lambda t: t["last"] < since)
        n, n_active = (int(self.con.execute(t.count())) for t in (silent, active))
        if n:
            self.notices.append(
                f"events: {n:,} of the {n_active:,} accounts active at the end of the data have "
                f"had no event for {SILENT_DAYS} days or more: churn is read from "
                f"{', '.join(map(repr, self.churn_rule.events))} alone, so an account that stops "
                "without cancelling stays active (a non-churner at every later cutoff, scored "
                'as a customer); add "inactive_days" (say 30) to the churn rule to read silence '
                "as churn too"
            )

    def _resolve_observed_until(self) -> None:
        if self.observed_until is None:
            latest = self._latest.get(("events", "ts"))
            if latest is None:
                latest = self.con.execute(self.typed["events"].ts.max())
            if latest is None or pd.isna(latest):
                said = any(p.table == "events" and p.column == "ts" for p in self.problems)
                extra = [] if said else [Problem("events", "ts", "no valid timestamp")]
                raise DataValidationError(self.source, [*self.problems, *extra])
            self._events_from_the_future(pd.Timestamp(latest))
            self.observed_until = pd.Timestamp(latest)
            self.notices.append(
                f"observed_until not given: using the latest event, {self.observed_until}"
            )

    def _events_from_the_future(self, latest: pd.Timestamp) -> None:
        """Where the end of observation is read from the latest event: events dated after
        today (a device clock set wrong, a placeholder such as 2099-12-31) would make it, and
        every label would read years that have not happened. A problem naming them."""
        now = pd.Timestamp.now(tz="UTC").tz_localize(None).normalize() + pd.Timedelta(days=2)
        if latest < now:
            return
        ev = self.typed["events"]
        after = ev.ts >= now.to_pydatetime()
        n = int(self.con.execute(after.sum()))
        ex = self._examples(ev, after, ["account_id", "ts", "event_type"])
        self._problem(
            "events",
            "ts",
            f"{n} event(s) dated after today ({(now - pd.Timedelta(days=2)).date()}): the end "
            "of observation is read from the latest event, so every label would read dates "
            "that have not come; fix or remove them (a device clock, a placeholder date), or "
            "give observed_until in dataset.json",
            ex,
        )
        raise DataValidationError(self.source, self.problems)

    def _check_relations(self) -> None:
        self._check_unknown_accounts()
        self._check_future_timestamps()
        self._check_subscription_periods()
        self._check_ticket_order()
        self._check_campaign_arms()
        self._note_accounts_without_subscription()
        self._note_annual_prices()

    def _check_unknown_accounts(self) -> None:
        """Rows of the account-level tables whose account is not in accounts: a problem, except
        in the activity tables (events, tickets, surveys), where a minority of unknown accounts
        (people who are not, or no longer, customers: a product logs them too) is left out
        with a notice. Where most of such a table's accounts are unknown, the ids are written
        differently (a type, leading zeros, a prefix): a problem saying so."""
        accounts = self.typed["accounts"].select("account_id")
        for name in ("subscriptions", "events", "tickets", "surveys", "campaigns"):
            if name not in self.typed:
                continue
            tbl = self.typed[name]
            tbl = tbl.filter(tbl.account_id.notnull())  # a missing id is its own problem
            orphans = tbl.anti_join(accounts, "account_id").select("account_id").distinct()
            n = int(self.con.execute(orphans.count()))
            if not n:
                continue
            rows = self.con.execute(orphans.order_by("account_id").limit(MAX_EXAMPLES))
            ex = [f"account_id={_sql_literal(v)}" for v in rows.account_id]
            message = f"{n} unknown account(s) not in accounts" + self._folded_ids(orphans)
            if name in _ACTIVITY_TABLES:
                known = tbl.semi_join(accounts, "account_id").select("account_id").distinct()
                if n <= int(self.con.execute(known.count())):
                    left = int(self.con.execute(tbl.anti_join(accounts, "account_id").count()))
                    self.notices.append(
                        f"{name}: {left:,} row(s) of {n:,} account(s) not in accounts left out "
                        f"(e.g. {'; '.join(ex[:3])}): people who are not, or no longer, "
                        "customers"
                    )
                    self.typed[name] = self.typed[name].semi_join(accounts, "account_id")
                    continue
                message += (
                    ", most of the table's accounts: are the ids written the same way in both "
                    "tables (type, leading zeros, a prefix)?"
                )
            self._problem(name, "account_id", message, ex)

    def _folded_ids(self, orphans: ir.Table) -> str:
        """Where unknown text ids match accounts once spaces around them and case are
        ignored (`` ACME-7`` for ``acme-7``): how many, with an example, and what to do."""
        accounts = self.typed["accounts"]
        if not (orphans.account_id.type().is_string() and accounts.account_id.type().is_string()):
            return ""
        folded = accounts.select(key=accounts.account_id.strip().lower(), known=accounts.account_id)
        pairs = orphans.join(folded, orphans.account_id.strip().lower() == folded.key)
        matched = int(self.con.execute(pairs.select("account_id").distinct().count()))
        if not matched:
            return ""
        first = self.con.execute(pairs.order_by("account_id").limit(1)).iloc[0]
        return (
            f" ({matched} of them match an account once spaces around the id and case are "
            f"ignored, e.g. {first.account_id!r} for {first.known!r}: write the ids the same "
            "way in both tables)"
        )

    def _check_future_timestamps(self) -> None:
        """Timestamps after observed_until: the data cannot know about them."""
        end = ibis.literal(self.observed_until.to_pydatetime())
        for name, tbl in self.typed.items():
            if name not in TABLES:
                continue
            schema = TABLES[name]
            conds = {
                c: tbl[c] > end
                for c in schema.timestamp_columns
                if c in tbl.columns and self._maybe_after(name, c)
            }
            for col, n in self._count_many(tbl, conds).items():
                if n and (name, col) == ("subscriptions", "ended_at"):
                    self._scheduled_ends(tbl, conds[col], n)
                elif n:
                    ex = self._examples(tbl, conds[col], [*self._key_cols(schema), col])
                    self._problem(
                        name,
                        col,
                        f"{n} timestamp(s) after the data's end ({self.observed_until})",
                        ex,
                    )

    def _scheduled_ends(self, subs: ir.Table, after: ir.BooleanValue, n: int) -> None:
        """Subscriptions whose end lies after the data's end (a contract's term, a cancellation
        scheduled for the period's end) were in force when the data ends: read as open (the
        end not known yet, as at any cutoff before it), with a notice."""
        ex = self._examples(subs, after, ["account_id", "started_at", "ended_at"])
        self.notices.append(
            f"subscriptions: {n} subscription(s) end after the data's end "
            f"({self.observed_until}; a contract term or a cancellation scheduled for later), "
            f"read as still in force then (e.g. {'; '.join(ex[:3])}); a cancellation already "
            "asked for is seen by the model through the canceled_at column (the request's date)"
        )
        ended = ibis.ifelse(after, ibis.null(subs.ended_at.type()), subs.ended_at)
        self.typed["subscriptions"] = subs.mutate(ended_at=ended)

    def _maybe_after(self, table: str, col: str) -> bool:
        """Whether ``table.col`` may hold a timestamp after the data's end: unless its latest
        value (from the per-table checks) is known and is not."""
        if (table, col) not in self._latest:
            return True
        latest = self._latest[(table, col)]
        if latest is None or pd.isna(latest):
            return False  # no timestamp at all
        return _naive_utc(latest) > _naive_utc(self.observed_until)

    def _check_subscription_periods(self) -> None:
        """Subscriptions that end before they start (a problem); renewals, a later one of the
        same plan starting while they are in force (each read as ending there, with a notice:
        :func:`churnlab.data.dataset.renewal_starts`); and other overlaps with the account's
        next one (a notice: held at once, see :func:`churnlab.data.in_force`)."""
        subs = self.typed["subscriptions"]
        bad = subs.ended_at < subs.started_at
        renew = renewal_starts(subs)
        counts = self._count_many(
            renew,
            {"backwards": renew.ended_at < renew.started_at, "renewed": renew.renewed_at.notnull()},
        )
        if n := counts["backwards"]:
            ex = self._examples(subs, bad, ["account_id", "started_at", "ended_at"])
            self._problem(
                "subscriptions", "ended_at", f"{n} subscription(s) end before they start", ex
            )
            return
        self._check_cancellation_requests(subs)
        if n := counts["renewed"]:
            ex = self._examples(
                renew,
                renew.renewed_at.notnull(),
                ["account_id", "plan", "started_at", "ended_at", "renewed_at"],
            )
            same = (
                "plan"
                if "plan" in subs.columns
                else "account (no plan column: its rows read as one plan)"
            )
            self.notices.append(
                f"subscriptions: {n} subscription(s) are renewed before they end (a later one "
                f"of the same {same} starts while they are in force, as billing systems charge "
                "the next period early): each is read as ending where its renewal starts, so a "
                "renewal neither counts MRR twice nor breaks the cover"
                + (f" (e.g. {'; '.join(ex[:3])})" if ex else "")
            )
            subs = materialize(self.con, renewals_replaced(subs), "_churnlab_subscriptions")
            self.typed["subscriptions"] = subs
        w = ibis.window(group_by="account_id", order_by="started_at")
        nxt = subs.mutate(next_start=subs.started_at.lead().over(w))
        overlap = nxt.next_start.notnull() & (
            nxt.ended_at.isnull() | (nxt.next_start < nxt.ended_at)
        )
        if n := self._count_many(nxt, {"overlap": overlap})["overlap"]:
            ex = self._examples(
                nxt, overlap, ["account_id", "plan", "started_at", "ended_at", "next_start"]
            )
            self.notices.append(
                f"subscriptions: {n} subscription(s) are still in force when the account's next "
                "one starts; they are read as held at once (a plan and its add-ons, a second "
                "product): an account's MRR at a date is the total of the subscriptions in "
                "force, its plan and billing period those of the largest, and it churns when "
                "its cover ends: the last one in force ends with none following within the "
                "grace days" + (f" (e.g. {'; '.join(ex[:3])})" if ex else "")
            )

    def _check_cancellation_requests(self, subs: ir.Table) -> None:
        """A cancellation requested (``canceled_at``) before the subscription started or after
        it ended: the request belongs to another row, or the columns are swapped."""
        if "canceled_at" not in subs.columns:
            return
        conds = {
            "start": subs.canceled_at < subs.started_at,
            "end": subs.canceled_at > subs.ended_at,
        }
        for side, n in self._count_many(subs, conds).items():
            if n:
                ex = self._examples(
                    subs, conds[side], ["account_id", "started_at", "ended_at", "canceled_at"]
                )
                when = "before they start" if side == "start" else "after they end"
                self._problem(
                    "subscriptions",
                    "canceled_at",
                    f"{n} subscription(s) canceled {when} (canceled_at is when the customer asked "
                    "to cancel: on or after started_at, on or before ended_at)",
                    ex,
                )

    def _check_ticket_order(self) -> None:
        """Tickets resolved before they were created."""
        if "tickets" not in self.typed or "resolved_at" not in self.typed["tickets"].columns:
            return
        tk = self.typed["tickets"]
        bad = tk.resolved_at < tk.created_at
        n = self._count_many(tk, {"x": bad})["x"]
        if n:
            ex = self._examples(tk, bad, ["ticket_id", "created_at", "resolved_at"])
            self._problem("tickets", "resolved_at", f"{n} ticket(s) resolved before created", ex)

    def _check_campaign_arms(self) -> None:
        """Campaigns whose rows are all treated or all control: without both arms there is
        nothing to compare, so the campaign cannot tell what the contact did."""
        if "campaigns" not in self.typed:
            return
        cp = self.typed["campaigns"]
        arms = cp.group_by("campaign").agg(
            treated=cp.treated.cast("int64").sum().coalesce(0),
            control=(~cp.treated).cast("int64").sum().coalesce(0),
        )
        one_arm = arms.filter(
            (arms.campaign.notnull())
            & ((arms.treated == 0) | (arms.control == 0))
            & (arms.treated + arms.control > 0)
        )
        n = int(self.con.execute(one_arm.count()))
        if n:
            rows = self.con.execute(one_arm.order_by("campaign").limit(MAX_EXAMPLES))
            ex = [
                f"campaign={_sql_literal(r.campaign)} ({r.treated} treated, {r.control} control)"
                for r in rows.itertuples(index=False)
            ]
            self._problem(
                "campaigns",
                "treated",
                f"{n} campaign(s) with one arm only (every row treated, or every row control: "
                "a campaign needs a randomized control group)",
                ex,
            )

    def _note_accounts_without_subscription(self) -> None:
        """Accounts with no subscription are allowed (never active), with a notice."""
        accounts = self.typed["accounts"].select("account_id")
        no_sub = accounts.anti_join(self.typed["subscriptions"], "account_id")
        n = int(self.con.execute(no_sub.count()))
        if n:
            self.notices.append(
                f"accounts: {n} account(s) have no subscription and are never active"
            )

    def _note_annual_prices(self) -> None:
        """``mrr`` is monthly revenue. Where a plan's annual rows carry six or more times the
        MRR of its monthly rows (a yearly discount makes them cheaper, not dearer), the annual
        price was most likely written as MRR, as billing exports (Stripe's ``plan.amount``)
        keep it: a notice with the medians. Plans with fewer than 3 paying rows of a period
        are not compared."""
        subs = self.typed.get("subscriptions")
        if subs is None or "billing_period" not in subs.columns:
            return
        paying = subs.filter((subs.mrr > 0) & subs.billing_period.isin(["monthly", "annual"]))
        plan = paying.plan if "plan" in paying.columns else ibis.literal("")
        paying = paying.mutate(_plan=plan.fill_null(""))
        medians = self.con.execute(
            paying.group_by("_plan", "billing_period").agg(
                rows=paying.count(), median=paying.mrr.median()
            )
        )
        wide = medians[medians.rows >= 3].pivot(
            index="_plan", columns="billing_period", values="median"
        )
        if not {"monthly", "annual"} <= set(wide.columns):
            return
        ratio = (wide["annual"] / wide["monthly"]).dropna()
        high = ratio[ratio >= ANNUAL_PRICE_RATIO]
        if high.empty or len(high) < len(ratio) / 2:
            return
        shown = "; ".join(
            f"{'plan ' + repr(p) + ': ' if p else ''}annual {wide.at[p, 'annual']:,.2f} vs "
            f"monthly {wide.at[p, 'monthly']:,.2f}"
            for p in high.index[:3]
        )
        self.notices.append(
            f"subscriptions.mrr: annual subscriptions carry {high.median():.1f}x the median MRR "
            f"of monthly ones{' on the same plan' * ('plan' in subs.columns)} ({shown}): mrr "
            "is monthly revenue, so an annual "
            "price is divided by 12 (and an amount in cents by 100) before it is written there"
        )


def _typed_table(
    schema: TableSchema,
    raw: ir.Table,
    epoch_unit: str | None = None,
    comma: list[str] = (),
    orders: dict[str, str] | None = None,
) -> tuple[ir.Table, dict[str, ir.BooleanValue], dict[str, ir.BooleanValue]]:
    """The schema's columns in canonical types (extra columns kept as they are), per column
    the condition marking values that failed to parse, and per amount column read as text the
    condition marking values written for people (``$1,234.50``; in the columns ``comma``,
    numbers written with a decimal comma or thousands dots, :func:`_comma_amount`), read as
    numbers. Numbers in timestamp columns are epoch times in ``epoch_unit``
    (:func:`from_epoch`), or fail; text dates written 13.01.2025 are read in the order
    ``orders`` gives their column (:func:`_other_date`), or fail."""
    typed_cols: dict[str, ir.Value] = {}
    parse_fail: dict[str, ir.BooleanValue] = {}
    written: dict[str, ir.BooleanValue] = {}
    for col in schema.columns:
        if col.name not in raw.columns:
            continue
        value, failed = _canonical(
            raw[col.name], col.kind, epoch_unit, col.name in comma, (orders or {}).get(col.name)
        )
        if col.name == "billing_period":
            value = _billing_period(value)
        if col.allowed:  # 'Bug', 'How To', 'how-to', ' HIGH ' as the values churnlab knows
            value = _known_value(value, col.allowed)
        typed_cols[col.name] = value
        if failed is not None:
            parse_fail[col.name] = failed
        if col.name in comma:
            text = _present_text(raw[col.name])
            written[col.name] = _comma_amount(text).notnull() & text.re_search(_COMMA_DECIDES[";"])
        elif col.kind == "float" and raw[col.name].type().is_string():
            text = _present_text(raw[col.name])
            written[col.name] = text.try_cast("float64").isnull() & _written_amount(text).notnull()
    extra = [c for c in raw.columns if c not in typed_cols]
    table = raw.select(*[typed_cols[c].name(c) for c in typed_cols], *extra)
    return table, parse_fail, written


_ROWS = "__rows"
# tables of activity, which a product also logs for people who are not accounts
_ACTIVITY_TABLES = ("events", "tickets", "surveys")


def _naive_utc(value: Any) -> pd.Timestamp:
    """A timestamp as naive UTC, as the typed tables hold them."""
    ts = pd.Timestamp(value)
    return ts.tz_convert("UTC").tz_localize(None) if ts.tzinfo is not None else ts


def _offset_conditions(schema: TableSchema, raw: ir.Table) -> dict[str, ir.BooleanValue]:
    """Per timestamp column read as text: ``{col}__aware`` (values with a UTC offset) and
    ``{col}__naive`` (values without)."""
    conds: dict[str, ir.BooleanValue] = {}
    for col in schema.timestamp_columns:
        if col in raw.columns and raw[col].type().is_string():
            text = _present_text(raw[col])
            conds[f"{col}__aware"] = text.notnull() & has_offset(text)
            conds[f"{col}__naive"] = text.notnull() & ~has_offset(text)
    return conds


def _parse_failure(kind: str, dtype: Any, epoch_unit: str | None = None) -> str:
    if kind == "timestamp":
        if epoch_unit is not None:
            return (
                f"values that are neither ISO timestamps nor epoch {EPOCH_UNIT_NAMES[epoch_unit]} "
                f'between {EPOCH_YEARS[0]} and {EPOCH_YEARS[1]} (dataset.json "epoch_unit": '
                f"{epoch_unit!r}; is the unit right? dates written 20240315 are read without it)"
            )
        if dtype.is_numeric():
            return (
                "numbers where timestamps belong (epoch seconds or milliseconds? name the unit "
                f"in dataset.json, {EPOCH_HINT}, or write ISO timestamps or a timestamp type; "
                "dates written 20240315 are read)"
            )
        return (
            "unparseable timestamps (write ISO 8601: 2024-03-15, 20240315 or 2024-03-15 "
            "14:22:03, an "
            "offset like +05:00 allowed; 03/04/2024 could be March 4 or April 3; epoch numbers "
            f"need their unit in dataset.json, {EPOCH_HINT})"
        )
    if kind == "bool":
        return "non-boolean values (write true/false or 1/0)"
    return f"unparseable or non-finite {kind} values (NaN and infinity are not amounts)"


# a UTC offset after a time of day: 02:42:03+05:00, 02:42:03.5-0800, 02:42Z
_OFFSET = r"\d:\d\d(:\d\d(\.\d+)?)?\s*(Z|[+-]\d\d(:?\d\d)?)$"


def has_offset(text: ir.StringValue) -> ir.BooleanValue:
    """Timestamp text that ends in a UTC offset (``+05:00``, ``-0800``, ``Z``)."""
    return text.re_search(_OFFSET)


def _finite(value: ir.NumericValue) -> ir.BooleanValue:
    return ~(value.isnan() | value.isinf())


def _usable_event_ids(events: ir.Table) -> ir.Table:
    """``events`` with an empty event id (or one written as missing: ``NULL``, ``N/A``)
    missing: such a row falls back to the exact-duplicate rule
    (:func:`churnlab.data.duplicates.distinct_events`), never one event with every other
    id-less row of its account."""
    eid = events.event_id
    if not eid.type().is_string():
        return events
    text = eid.strip()
    none = (text == "") | text.lower().isin(MISSING_TEXT)
    return events.mutate(event_id=ibis.ifelse(none, ibis.null("string"), eid))


def _canonical(
    value: ir.Value,
    kind: str,
    epoch_unit: str | None = None,
    decimal_comma: bool = False,
    order: str | None = None,
) -> tuple[ir.Value, ir.BooleanValue | None]:
    """The value in its canonical type, and the condition marking values that failed to parse:
    text that is not a number or timestamp, NaN and infinities (never a valid amount, count or
    duration), and numbers where a timestamp belongs unless ``epoch_unit`` says what they
    count (epoch numbers are ambiguous: seconds, milliseconds?). ``decimal_comma``: numbers
    in text are written with a decimal comma (:func:`_comma_amount`)."""
    dtype = value.type()
    if kind == "id":
        return (value.cast("int64") if dtype.is_numeric() else value.cast("string")), None
    if kind == "string":  # NULL and \N, as database dumps write a missing value, are missing
        text = value.cast("string") if not dtype.is_string() else value
        return ibis.ifelse(text.strip().lower().isin(MISSING_TEXT), ibis.null("string"), text), None
    if kind == "bool":
        return _canonical_bool(value)
    if dtype.is_string():
        return _parsed_text(value, kind, epoch_unit, decimal_comma, order)
    if kind == "timestamp":
        return _canonical_timestamp(value, epoch_unit)
    if dtype.is_floating():
        bad = value.notnull() & ~_finite(value)
        if kind == "int":
            bad = bad | (value.notnull() & _finite(value) & (value % 1 != 0))
        kept = ibis.ifelse(bad, ibis.null(), value)
        return kept.try_cast("int64" if kind == "int" else "float64"), bad
    return value.cast("int64" if kind == "int" else "float64"), None


def _known_value(value: ir.StringValue, allowed: tuple[str, ...]) -> ir.StringValue:
    """A value written in another case, or with spaces or hyphens for underscores, as the
    allowed value it spells; any other value as written."""
    norm = value.strip().lower().re_replace(r"[\s-]+", "_")
    return ibis.ifelse(norm.isin(allowed), norm, value)


SILENT_DAYS = 90  # days without an event after which an account counts as silent in notices


def _only_anonymous_types(events: ir.Table) -> tuple[str, ...]:
    """The event types of events without an account that no event with one has, sorted."""
    if "event_type" not in events.columns:
        return ()
    ev = events.select(
        event_type=events.event_type.cast("string"), named=events.account_id.notnull()
    )
    per = ev.group_by("event_type").agg(named=ev.named.any())
    only = per.filter(~per.named & per.event_type.notnull()).event_type
    return tuple(sorted(only.to_pyarrow().to_pylist()))


def _billing_period(value: ir.StringValue) -> ir.StringValue:
    """A billing period as exports write it (``Monthly``, ``yearly``, ``12 months``) as its
    canonical name (:data:`~churnlab.data.schema.BILLING_PERIOD_WORDS`); others as written."""
    text = value.strip().lower()
    return ibis.cases(
        *[(text.isin(words), ibis.literal(name)) for name, words in BILLING_PERIOD_WORDS.items()],
        else_=value,
    )


_TRUE, _FALSE = ("true", "t", "1", "yes", "y"), ("false", "f", "0", "no", "n")


def _canonical_bool(value: ir.Value) -> tuple[ir.Value, ir.BooleanValue | None]:
    """A boolean column from booleans, the numbers 0 and 1, or text (true/false, t/f, 1/0,
    yes/no, any case); anything else fails to parse."""
    dtype = value.type()
    if dtype.is_boolean():
        return value, None
    if dtype.is_numeric():
        ok = value.isin([0, 1])
        return ibis.ifelse(ok, value == 1, ibis.null("boolean")), value.notnull() & ~ok
    text = _present_text(value).lower()
    parsed = ibis.cases(
        (text.isin(_TRUE), ibis.literal(True)),
        (text.isin(_FALSE), ibis.literal(False)),
        else_=ibis.null("boolean"),
    )
    return parsed, text.notnull() & parsed.isnull()


# what database dumps write for a missing value (NULL, \N): missing, like a blank, wherever a
# number, timestamp or boolean is read from text
MISSING_TEXT = ("null", "\\n")


def _present_text(value: ir.Value) -> ir.StringValue:
    """Text trimmed, with blanks and the missing-value markers of :data:`MISSING_TEXT` null."""
    text = value.cast("string").strip()
    return ibis.ifelse((text == "") | text.lower().isin(MISSING_TEXT), ibis.null("string"), text)


def _parsed_text(
    value: ir.StringValue,
    kind: str,
    epoch_unit: str | None = None,
    decimal_comma: bool = False,
    order: str | None = None,
) -> tuple[ir.Value, ir.BooleanValue]:
    """Text (CSV) parsed as a number or a timestamp; timestamps with a UTC offset are converted
    to UTC, those without are taken as UTC already; with ``epoch_unit``, a timestamp written as
    a number is an epoch time in that unit; with ``decimal_comma``, a number is written with a
    decimal comma (``238,00``, ``1.234,50``, ``42.692``: :func:`_comma_amount`)."""
    text = _present_text(value)
    if kind == "timestamp":
        aware = text.try_cast("timestamp('UTC')").cast("timestamp")
        parsed = ibis.ifelse(has_offset(text), aware, text.try_cast("timestamp"))
        parsed = parsed.coalesce(basic_date(text))
        # 13.01.2025, 01/13/2025: in the order the column's values decided, else unparsed
        # (DuckDB's own cast would read 01/05/24 as the year 1)
        other = _other_date(text.upper(), order) if order else ibis.null("timestamp")
        parsed = ibis.ifelse(text.upper().re_search(OTHER_DATE), other, parsed)
        if epoch_unit is not None:
            number = text.try_cast("float64")
            parsed = ibis.ifelse(number.notnull(), from_epoch(number, epoch_unit), parsed)
        return parsed, text.notnull() & parsed.isnull()
    if decimal_comma:
        number = _comma_amount(text)
    elif kind == "float":  # an amount as a spreadsheet or CRM export writes it: $1,234.50
        number = text.try_cast("float64").coalesce(_written_amount(text))
    else:
        number = text.try_cast("float64")
    bad = text.notnull() & (number.isnull() | ~_finite(number))
    if kind == "int":
        bad = bad | (number.notnull() & _finite(number) & (number % 1 != 0))
        return ibis.ifelse(bad, ibis.null(), number).try_cast("int64"), bad
    return ibis.ifelse(bad, ibis.null(), number), bad


# an amount written for people: a sign, a currency symbol before or after, digits with or
# without thousands separators (groups of three), decimals (as a customer table reads them)
_WRITTEN_AMOUNT = (
    rf"^[-+]?\s*[{CURRENCY_SYMBOLS}]?\s*[-+]?\s*(\d{{1,3}}(,\d{{3}})+|\d+)(\.\d+)?\s*"
    rf"[{CURRENCY_SYMBOLS}]?$"
)


# an amount written with a decimal comma: a sign, a currency symbol before or after, digits
# with or without thousands separators (dots or spaces between groups of three; a first group
# of 0 is none: 0.125 is not 125), a decimal comma and decimals (as a customer table reads them)
_COMMA_AMOUNT = (
    rf"^[-+]?\s*[{CURRENCY_SYMBOLS}]?\s*[-+]?\s*([1-9]\d{{0,2}}([{COMMA_LOCALE_GROUPS}]\d{{3}})+|\d+)"
    rf"(,\d+)?\s*[{CURRENCY_SYMBOLS}]?$"
)
# which values of a column in a text table decide that it is written with decimal commas: with
# semicolons between fields any comma or thousands group; with tabs only a comma that cannot
# be a thousands comma (12,50, 1.234,5; 1,250 could be either)
_COMMA_DECIDES = {
    ";": rf"\d[,{COMMA_LOCALE_GROUPS}]\d",
    "\t": rf"\d,(\d{{1,2}}|\d{{4,}})\D*$|\d[{COMMA_LOCALE_GROUPS}]\d{{3}},\d",
}


def _comma_amount(text: ir.StringValue) -> ir.FloatingValue:
    """``1.234,50``, ``238,00 €`` and ``42.692`` as numbers (1234.5, 238, 42692: symbols,
    spaces and thousands separators dropped, the comma a decimal point); null for anything
    else, ``12.5`` included."""
    bare = text.re_replace(rf"[\s{COMMA_LOCALE_GROUPS}{CURRENCY_SYMBOLS}]", "")
    number = bare.re_replace(",", ".").try_cast("float64")
    return ibis.ifelse(text.re_search(_COMMA_AMOUNT), number, ibis.null("float64"))


EPOCH_ZERO = datetime(1970, 1, 1)
SECONDS_PER_DAY = 86_400

# besides a blank, NULL and \N: what exports write for a missing value in a column of numbers
# (R: NA; Excel: #N/A and its failed formulas; pandas: nan; people: -, ?, unknown), as a
# customer table reads them
MISSING_MARKERS = (
    "na", "n/a", "n.a.", "#n/a", "nan", "none", "-", "--", "?", "unknown", "missing",
    "not available", "#value!", "#div/0!", "#ref!", "#num!", "#null!", "#name?",
)  # fmt: skip


def number_from_text(value: ir.StringValue) -> ir.FloatingValue:
    """Text as a number the way a customer table reads a column of them: plain numbers,
    numbers written for people (``1,234``, ``$1,500.00``), booleans as 1/0 (true/false,
    yes/no, t/f, y/n, any case); null for blanks and missing markers (NA, N/A, -) and for
    anything else (:func:`is_number_text` tells which)."""
    text = _present_text(value)
    text = ibis.ifelse(text.lower().isin(MISSING_MARKERS), ibis.null("string"), text)
    word = text.lower()
    boolean = ibis.cases(
        (word.isin(_TRUE), ibis.literal(1.0)),
        (word.isin(_FALSE), ibis.literal(0.0)),
        else_=ibis.null("float64"),
    )
    return text.try_cast("float64").coalesce(_written_amount(text), boolean)


def is_number_text(value: ir.StringValue) -> ir.BooleanValue:
    """Where text is present and reads as no number (:func:`number_from_text`): a column with
    none of these is a column of numbers."""
    text = _present_text(value)
    missing = text.isnull() | text.lower().isin(MISSING_MARKERS)
    return missing | number_from_text(value).notnull()


def _written_amount(text: ir.StringValue) -> ir.FloatingValue:
    """``$1,234.50`` and ``12.00 €`` as numbers (the symbols, spaces and separators dropped);
    null for anything else, ``-$-5`` included."""
    bare = text.re_replace(rf"[\s,{CURRENCY_SYMBOLS}]", "").try_cast("float64")
    return ibis.ifelse(text.re_search(_WRITTEN_AMOUNT), bare, ibis.null("float64"))


def _canonical_timestamp(
    value: ir.Value, epoch_unit: str | None = None
) -> tuple[ir.Value, ir.BooleanValue | None]:
    dtype = value.type()
    if dtype.is_timestamp():
        if dtype.timezone is not None:
            return value.cast("timestamp('UTC')").cast("timestamp"), None
        return value, None
    if dtype.is_numeric():
        if epoch_unit is None:  # only dates written 20240315 (an integer) are read
            whole = ibis.ifelse(value % 1 == 0, value, ibis.null()).try_cast("int64")
            parsed = basic_date(whole.cast("string"))
            return parsed, value.notnull() & parsed.isnull()
        parsed = from_epoch(value, epoch_unit)
        return parsed, value.notnull() & parsed.isnull()
    return value.cast("timestamp"), None


# a date written 13.01.2025, 13/01/2025 or 13/01/25 (a dotted year has four digits: 2.13.20 is
# a version), with a time of day or not: as single_table.date_order reads them (AM/PM aside)
OTHER_DATE = r"^\d{1,2}(/\d{1,2}/(\d{4}|\d{2})|\.\d{1,2}\.\d{4})([ T]\d{1,2}:\d{2}(:\d{2})?)?$"


def _other_date(text: ir.StringValue, order: str) -> ir.TimestampValue:
    """A date written 13.01.2025 or 01/13/2025 (:data:`OTHER_DATE`) in ``order``
    (``"day_first"`` or ``"month_first"``) as a timestamp; null for anything else, an
    impossible date (31.02.2025) included. A two-digit year is 2000-2068 or 1969-1999, as
    pandas reads it for a customer table. Rearranged into ISO text, so DuckDB and Spark read
    it alike."""
    first = text.re_extract(r"^(\d{1,2})", 1).lpad(2, "0")
    second = text.re_extract(r"^\d{1,2}[./](\d{1,2})", 1).lpad(2, "0")
    year = text.re_extract(r"^\d{1,2}[./]\d{1,2}[./](\d+)", 1)
    short = year.try_cast("int64")
    year = ibis.ifelse(year.length() == 2, ibis.ifelse(short < 69, "20" + year, "19" + year), year)
    day, month = (first, second) if order == "day_first" else (second, first)
    hour = text.re_extract(r"[ T](\d{1,2}):\d{2}", 1)
    minute = text.re_extract(r"[ T]\d{1,2}:(\d{2})", 1)
    sec = text.re_extract(r"[ T]\d{1,2}:\d{2}:(\d{2})$", 1)
    clock = ibis.ifelse(
        hour == "",
        "",
        " " + hour.lpad(2, "0") + ":" + minute + ":" + ibis.ifelse(sec == "", "00", sec),
    )
    iso = year + "-" + month + "-" + day + clock
    return ibis.ifelse(
        text.re_search(OTHER_DATE), iso.try_cast("timestamp"), ibis.null("timestamp")
    )


def basic_date(text: ir.StringValue) -> ir.TimestampValue:
    """A date in ISO 8601's basic format, ``20240315`` (text or an integer: as KKBox-style
    exports and many warehouses write dates), as a timestamp at midnight; null for anything
    else, an impossible date (20240231) included. Eight digits never mean an epoch time
    churnlab reads: as seconds they fall in 1970-1973, before the epochs' 1990-2100."""
    iso = text.substr(0, 4) + "-" + text.substr(4, 2) + "-" + text.substr(6, 2)
    shaped = text.re_search(r"^(19|20|21)\d\d(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])$")
    return ibis.ifelse(shaped, iso.try_cast("date").cast("timestamp"), ibis.null("timestamp"))


# what a number in a timestamp column may count (dataset.json "epoch_unit"): units per second
EPOCH_UNITS = {"s": 1, "ms": 1_000, "us": 1_000_000}
EPOCH_UNIT_NAMES = {"s": "seconds", "ms": "milliseconds", "us": "microseconds"}
EPOCH_HINT = '"epoch_unit": "s", "ms" or "us"'
# epoch numbers are read as times within these years only: a unit off by 1,000 (milliseconds
# read as seconds) lands far outside them and fails, naming the unit, instead of loading
EPOCH_YEARS = (1990, 2100)


def from_epoch(number: ir.NumericValue, unit: str) -> ir.TimestampValue:
    """An epoch number in ``unit`` (s, ms or us since 1970-01-01 UTC) as a naive UTC timestamp
    (to the microsecond); null outside :data:`EPOCH_YEARS` (and for NaN). Interval arithmetic,
    which DuckDB and Spark both compile (Ibis's ``as_timestamp`` supports different units on
    each)."""
    per_second = EPOCH_UNITS[unit]
    low, high = (
        (pd.Timestamp(year=y, month=1, day=1) - pd.Timestamp(0)).total_seconds() * per_second
        for y in EPOCH_YEARS
    )
    number = number.cast("float64")
    micros = (number * (1_000_000 // per_second)).round().cast("int64")
    stamp = ibis.timestamp("1970-01-01 00:00:00") + micros.as_interval("us")
    return ibis.ifelse(number.between(low, high), stamp, ibis.null("timestamp"))
