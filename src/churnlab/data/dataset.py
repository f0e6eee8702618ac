"""The dataset: named, validated tables on one Ibis connection, and the problems validation
reports (table, column, example rows), all at once."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from churnlab.errors import ChurnlabError

MANIFEST = "dataset.json"
MAX_EXAMPLES = 5


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the input, located by table and column, with example keys or rows."""

    table: str
    column: str | None
    message: str
    examples: tuple[str, ...] = ()
    # the file's own name for the column, where dataset.json maps it ("columns")
    file_column: str | None = None

    def __str__(self) -> str:
        where = f"{self.table}.{self.column}" if self.column else self.table
        if self.file_column and self.file_column != self.column:
            where += f" (your {self.file_column})"
        text = f"{where}: {self.message}"
        if self.examples:
            text += " (e.g. " + "; ".join(self.examples) + ")"
        return text


class DataValidationError(ChurnlabError):
    """Raised once per load with every problem found, so a user fixes them all in one pass."""

    def __init__(self, source: str, problems: list[Problem]):
        self.source = source
        self.problems = list(problems)
        lines = [f"{source}: {len(self.problems)} problem(s) found"]
        lines += [f"  - {p}" for p in self.problems]
        super().__init__("\n".join(lines))


class UnreadableTableError(DataValidationError):
    """A file that cannot be read as a table at all (empty, not text in its encoding, not the
    format its name says): one line naming the file, what is wrong and what to do."""

    def __init__(self, source: str, message: str, table: str = "customers"):
        super().__init__(source, [Problem(table, None, message)])
        self.args = (f"{source}: {message}",)

    def __str__(self) -> str:
        return self.args[0]


# days between the first sign-up and the first event below which the log is taken to have begun
# with the accounts (a quiet first week), not to have been cut at a retention date
LOG_START_SLACK = 7


@dataclass
class Dataset:
    """Named, validated tables on one Ibis connection.

    ``tables`` hold canonical types (timestamps, float MRR, ...) for the columns that exist.
    ``observed_until`` is the end of observation: nothing after it is known, labels and censoring
    never look past it. ``kind`` is ``"events"`` for the five-table model or ``"customers"`` for a
    single CRM table, whose column roles (id, label, duration) are in ``roles``.
    """

    con: Any
    tables: dict[str, ir.Table]
    observed_until: pd.Timestamp | None
    source: str
    kind: str = "events"
    roles: dict[str, str | None] = field(default_factory=dict)
    notices: list[str] = field(default_factory=list)
    manifest: dict[str, Any] = field(default_factory=dict)
    # event types found only on the events left out for having no account_id
    anonymous_types: tuple[str, ...] = ()

    def has(self, table: str, column: str | None = None) -> bool:
        if table not in self.tables:
            return False
        return column is None or column in self.tables[table].columns

    def __getitem__(self, table: str) -> ir.Table:
        return self.tables[table]

    def first_signup(self) -> pd.Timestamp | None:
        """The earliest sign-up: no account is active before it (None for a customer table)."""
        if "accounts" not in self.tables:
            return None
        if "_first_signup" not in self.__dict__:
            first = self.con.execute(self.tables["accounts"].signup_at.min())
            self.__dict__["_first_signup"] = None if pd.isna(first) else pd.Timestamp(first)
        return self.__dict__["_first_signup"]

    def log_start(self) -> tuple[pd.Timestamp, int] | None:
        """Where the event log begins, when accounts are older than it: (the day of its first
        event, the accounts that signed up before that day). None when every account signed up
        on or after it (or there is no log, or no dated accounts): a log cut at a retention
        date holds nothing of what those accounts did before it, so the features over windows
        reaching before it are unknown for them (see ``Feature.window``), not zero. A log whose
        first event comes less than :data:`LOG_START_SLACK` days after the first sign-up began
        with the business (its first days were quiet): None."""
        if "_log_start" not in self.__dict__:
            self.__dict__["_log_start"] = self._read_log_start()
        return self.__dict__["_log_start"]

    def _read_log_start(self) -> tuple[pd.Timestamp, int] | None:
        if "accounts" not in self.tables or "events" not in self.tables:
            return None
        first = self.con.execute(self.tables["events"].ts.min())
        if pd.isna(first):
            return None
        start = pd.Timestamp(first).normalize()
        acc = self.tables["accounts"]
        first_signup = self.first_signup()
        if first_signup is None or first_signup >= start - pd.Timedelta(days=LOG_START_SLACK):
            return None  # the log began with the business: its first days were merely quiet
        older = int(self.con.execute(acc.filter(acc.signup_at < start.to_pydatetime()).count()))
        return start, older

    def covers(self) -> str:
        """The dates the data covers, for messages: ``the data covers 2024-01-01 to 2026-01-01``."""
        first, end = self.first_signup(), self.observed_until
        if first is None or end is None:
            return f"the data ({self.source}) has no dated accounts"
        return f"the data covers {first.date()} to {end.date()}"

    def summary(self) -> dict[str, Any]:
        """Rows per table, date range, accounts, those that ever subscribed, churned accounts
        and churn rate (churned of subscribed), those that ever paid and how many of them
        churned, the paying subscriptions' MRR, and the campaigns, where the dataset has
        them."""
        if self.kind == "customers":
            return customer_summary(self)
        rows = {name: int(self.con.execute(t.count())) for name, t in self.tables.items()}
        acc = self.tables["accounts"]
        first = self.con.execute(acc.signup_at.min())
        churned = int(self.con.execute(churned_accounts(self).count()))
        n_accounts = rows["accounts"]
        # the rate is over the accounts that ever held cover: one never subscribed (a free user
        # of a log whose paid spells are the subscriptions) can never churn
        subscribed = int(self.con.execute(self.tables["subscriptions"].account_id.nunique()))
        extra = {"campaigns": campaign_summary(self)} if "campaigns" in self.tables else {}
        extra.update(paying_summary(self))
        events = self.tables.get("events")
        if events is not None and "count" in events.columns:  # a rolled-up log's events
            extra["events"] = int(self.con.execute(events["count"].sum()))
        return {
            "source": self.source,
            "rows": rows,
            "start": pd.Timestamp(first).isoformat(),
            "observed_until": self.observed_until.isoformat(),
            "accounts": n_accounts,
            "subscribed_accounts": subscribed,
            "churned_accounts": churned,
            "churn_rate": churned / subscribed if subscribed else float("nan"),
            **extra,
        }


def paying_summary(dataset: Dataset) -> dict[str, Any]:
    """Accounts that ever paid (a subscription with MRR above 0), how many of them churned, and
    the MRR of the paying subscriptions (median, largest): trial-only accounts are told apart
    from paid churn, and an amount in cents or an annual price shows in the medians. Empty
    where no subscription has MRR."""
    subs = dataset["subscriptions"]
    paid = subs.filter(subs.mrr > 0)
    row = dataset.con.execute(
        paid.aggregate(
            accounts=paid.account_id.nunique(), median=paid.mrr.median(), top=paid.mrr.max()
        )
    ).iloc[0]
    if not int(row["accounts"]):
        return {}
    churned = churned_accounts(dataset).semi_join(paid, "account_id").count()
    return {
        "paying_accounts": int(row["accounts"]),
        "paying_churned_accounts": int(dataset.con.execute(churned)),
        "mrr": {"median": float(row["median"]), "max": float(row["top"])},
    }


def campaign_summary(dataset: Dataset) -> dict[str, Any]:
    """Contact rows, distinct campaigns and accounts, the treated share and the date range."""
    cp = dataset["campaigns"]
    row = dataset.con.execute(
        cp.aggregate(
            rows=cp.count(),
            campaigns=cp.campaign.nunique(),
            accounts=cp.account_id.nunique(),
            treated=cp.treated.cast("int64").sum(),
            first=cp.ts.min(),
            last=cp.ts.max(),
        )
    ).iloc[0]
    n = int(row["rows"])
    return {
        "rows": n,
        "campaigns": int(row["campaigns"]),
        "accounts": int(row["accounts"]),
        "treated_share": float(row["treated"]) / n if n else float("nan"),
        "first": pd.Timestamp(row["first"]).isoformat() if n else None,
        "last": pd.Timestamp(row["last"]).isoformat() if n else None,
    }


def in_force(
    paired: ir.Table, at: ir.TimestampValue, by: list[str], *, before: bool = False
) -> ir.Table:
    """The subscriptions in force at ``at``, one row per ``by``. ``before``: in force just
    before ``at`` instead (started before it and not ended before it), what a cutoff at ``at``
    may see: a subscription dated at its instant (a renewal, an add-on, an end at midnight) is
    data of that instant, so the cutoff's rows and features never turn on it.

    ``paired`` holds subscription rows, each paired with a date (its columns and ``by``, e.g.
    the subscriptions cross-joined to the cutoffs). An account may hold several subscriptions
    at once (a plan and its add-ons, a second product; a renewal of the same plan replaces the
    row before it from its start, :func:`renewal_starts`, as validation reads every dataset's
    subscriptions): the row kept is the account's main one
    (the largest MRR in force; of equals the latest started, then the first plan and billing
    period by name), with ``mrr`` the total MRR in force. Where one subscription at a time is
    in force, that is the subscription itself."""
    if before:
        t = paired.filter(
            (paired.started_at < at) & (paired.ended_at.isnull() | (paired.ended_at >= at))
        )
    else:
        t = paired.filter(
            (paired.started_at <= at) & (paired.ended_at.isnull() | (paired.ended_at > at))
        )
    # ties broken on every column a builder reads from the row kept, so that rows still tied
    # give the same features whichever is kept (on any engine)
    order = [ibis.desc("mrr"), ibis.desc("started_at")]
    order += [c for c in ("plan", "billing_period") if c in t.columns]
    t = t.mutate(
        _total=t.mrr.sum().over(ibis.window(group_by=by)),
        _rank=ibis.row_number().over(ibis.window(group_by=by, order_by=order)),
    )
    t = t.filter(t._rank == 0)
    return t.mutate(mrr=t._total).drop("_total", "_rank")


def renewal_starts(subs: ir.Table) -> ir.Table:
    """``subs`` with ``renewed_at``: where a later subscription of the same account and plan
    starts while the row is in force (after its start, before its end or while it is open),
    the first such start; else null. Billing systems charge the next period before the last
    one ends (KKBox-style renewals paid a day early), and such a row is that renewal: it
    replaces the earlier one from its start (:func:`renewals_replaced`). Rows of other plans
    (a plan and its add-ons) or of the same plan starting at the same instant (two seats) are
    no renewal of each other. Without a ``plan`` column nothing tells an add-on from a
    renewal: an account's subscriptions are read as one plan, so any later one starting while
    one is in force renews it (a single-product biller's transactions); rows starting together
    are still held at once.

    Point in time: the end moves only to a later row's start, so what a cutoff at or before
    that start sees is unchanged, and after it the later row is in the data anyway."""
    key = ["account_id", "plan"] if "plan" in subs.columns else ["account_id"]
    starts = subs.select(*key, _start="started_at").distinct()
    w = ibis.window(group_by=key, order_by="_start")
    starts = starts.mutate(_next=starts._start.lead().over(w))
    # rows without a plan name are one plan of their own (null-safe equality)
    pred = [subs[k].identical_to(starts[k]) for k in key] + [subs.started_at == starts._start]
    j = subs.left_join(starts, pred)
    nxt = j._next
    renewed = nxt.notnull() & (j.ended_at.isnull() | (nxt < j.ended_at))
    return j.select(*subs.columns, renewed_at=ibis.ifelse(renewed, nxt, ibis.null("timestamp")))


def renewals_replaced(subs: ir.Table) -> ir.Table:
    """``subs`` with each renewed row (:func:`renewal_starts`) ending where its renewal starts:
    an account's MRR is never counted twice for one plan, and a renewal continues its cover
    (no churn, no new start). Validation reads every dataset's subscriptions through this."""
    t = renewal_starts(subs)
    return t.select(
        *[c for c in subs.columns if c != "ended_at"], ended_at=t.renewed_at.coalesce(t.ended_at)
    ).select(*subs.columns)


def coverage_spells(dataset: Dataset) -> ir.Table:
    """(account_id, started_at, ended_at): each account's spells of cover, its subscriptions
    merged where they overlap or follow each other within the grace days
    (:func:`churnlab.data.inactivity.grace_days`: a plan change, an add-on, a renewal dated
    the day after the last period's end); ``ended_at`` null while the spell is open. A spell's
    end is a churn, whatever comes after it: an account that leaves and comes back months
    later churned when it left (a label that waited for the return would read the future)."""
    from churnlab.data.inactivity import from_activity, grace_days

    raw = dataset["subscriptions"]
    if from_activity(dataset.manifest):
        # spells read from activity are separated by the rule itself: one ends at the instant
        # the next may begin (merging those would make the end turn on the later event)
        return raw.select("account_id", "started_at", "ended_at")
    # one row per (account, start) first, so that the two windows below order rows alike (rows
    # tied on their order, such as a plan and an add-on bought together, could otherwise come
    # in one order to the first window and in another to the second)
    subs = raw.group_by("account_id", "started_at").agg(
        _last=raw.ended_at.max(), _open=raw.ended_at.isnull().any()
    )
    subs = subs.mutate(ended_at=ibis.ifelse(subs._open, ibis.null("timestamp"), subs._last))
    before = ibis.window(group_by="account_id", order_by="started_at", rows=(None, -1))
    # the rows before: how far their cover reaches, and whether one of them is still open
    reach, open_before = subs._last.max().over(before), subs._open.any().over(before)
    grace = ibis.interval(days=grace_days(dataset.manifest))
    opens = open_before.isnull() | (~open_before & (subs.started_at > reach + grace))
    subs = subs.mutate(_opens=opens.cast("int64"))
    running = ibis.cumulative_window(group_by="account_id", order_by="started_at")
    subs = subs.mutate(_spell=subs._opens.sum().over(running))
    spells = subs.group_by("account_id", "_spell").agg(
        started_at=subs.started_at.min(), _end=subs._last.max(), _open=subs._open.any()
    )
    return spells.select(
        "account_id",
        "started_at",
        ended_at=ibis.ifelse(spells._open, ibis.null("timestamp"), spells._end),
    )


def churned_accounts(dataset: Dataset) -> ir.Table:
    """Accounts without cover at the end of the data (their last subscription has ended with no
    later one): (account_id, churned_at), the summary's churned accounts. Labels read churn per
    spell of cover (:func:`coverage_spells`): an account that left and came back is active."""
    subs = dataset["subscriptions"]
    last = subs.group_by("account_id").agg(
        last_start=subs.started_at.max(),
        open_subs=subs.ended_at.isnull().sum(),
        churned_at=subs.ended_at.max(),
    )
    return last.filter((last.open_subs == 0) & (last.churned_at >= last.last_start)).select(
        "account_id", "churned_at"
    )


def customer_summary(dataset: Dataset) -> dict[str, Any]:
    t = dataset["customers"]
    label = dataset.roles["label"]
    n = int(dataset.con.execute(t.count()))
    churned = int(dataset.con.execute(t[label].sum()))
    out: dict[str, Any] = {
        "source": dataset.source,
        "rows": {"customers": n},
        "customers": n,
        "churned_customers": churned,
        "churn_rate": churned / n if n else float("nan"),
        "columns": len(t.columns),
    }
    duration = dataset.roles.get("duration")
    if duration is not None:
        col = t[duration]
        top, median = (dataset.con.execute(v) for v in (col.max(), col.median()))
        out["duration"] = {
            "column": duration,
            "unit": dataset.manifest.get("duration_unit", "days"),
            "max": None if top is None or pd.isna(top) else float(top),
            "median": None if median is None or pd.isna(median) else float(median),
        }
    return out
