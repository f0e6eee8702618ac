"""The canonical data model: five tables of a subscription business, plus retention campaigns.

Only ``accounts``, ``subscriptions`` and ``events`` are required, and within them only ids,
timestamps, ``plan``, ``mrr`` and ``event_type``. Every other column and table is optional:
whatever needs a missing one is skipped with a notice. ``campaigns`` records randomized
retention contacts (treated or held out as control), which uplift models learn from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

# currency symbols an amount may be written with, before or after it ($1,234.50, 12.00 €)
CURRENCY_SYMBOLS = "$€£¥₹"
# what separates thousands where the decimal separator is a comma: a dot (1.234,50), a space,
# a no-break space, or the narrow no-break space (U+202F) French locales write (1 234,50)
COMMA_LOCALE_GROUPS = ". \u00a0\u202f"
Kind = Literal["id", "timestamp", "string", "float", "int", "bool"]

# Values of ``subscriptions.end_reason`` that do not end the customer relationship: the account
# moved to another subscription row. Churn is "the account's cover ends" (no subscription
# follows within the grace days), which holds whatever the reason, so these are informative.
PLAN_CHANGE_REASONS = ("upgrade", "downgrade")
INVOLUNTARY_REASONS = ("payment_failed",)
TICKET_CATEGORIES = ("bug", "usability", "how_to", "billing")
SEVERITIES = ("low", "medium", "high", "critical")
BILLING_PERIODS = ("monthly", "quarterly", "annual")
# how exports write them (any case, trimmed): read as the canonical value
BILLING_PERIOD_WORDS = {
    "monthly": ("monthly", "month", "months", "mo", "m", "1m", "1 month", "per month"),
    "quarterly": ("quarterly", "quarter", "q", "3m", "3 months"),
    "annual": (
        "annual",
        "annually",
        "yearly",
        "year",
        "years",
        "yr",
        "y",
        "12m",
        "12 months",
        "1 year",
        "per year",
    ),
}


@dataclass(frozen=True)
class Column:
    name: str
    kind: Kind
    required: bool = False
    nullable: bool = True
    description: str = ""
    min_value: float | None = None
    max_value: float | None = None
    allowed: tuple[str, ...] | None = None
    # whether its absence is said in a notice (not for a column whose absence is the norm)
    noticed_missing: bool = True


@dataclass(frozen=True)
class TableSchema:
    name: str
    columns: tuple[Column, ...]
    required: bool
    description: str
    key: tuple[str, ...] = ()
    # the columns that point at a row in examples, where not the whole key
    shown: tuple[str, ...] = ()
    references_accounts: bool = True
    extra: dict[str, str] = field(default_factory=dict)
    when_missing: str = "features that need it are skipped"

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)

    @property
    def required_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.required]

    @property
    def timestamp_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.kind == "timestamp"]


ACCOUNTS = TableSchema(
    name="accounts",
    required=True,
    key=("account_id",),
    references_accounts=False,
    description="one row per customer account",
    columns=(
        Column("account_id", "id", required=True, nullable=False, description="account key"),
        Column("signup_at", "timestamp", required=True, nullable=False, description="sign-up time"),
        Column("segment", "string", description="smb, mid_market or enterprise"),
        Column("industry", "string", description="industry of the customer"),
        Column("country", "string", description="ISO country code"),
        Column("acquisition_channel", "string", description="organic, paid, partner, sales, ..."),
        Column("seats", "int", min_value=0, description="team size (licensed seats)"),
    ),
)

SUBSCRIPTIONS = TableSchema(
    name="subscriptions",
    required=True,
    # several may start together (a plan and an add-on bought at once): a duplicate is a row
    # equal in all of these (those present)
    key=("account_id", "started_at", "plan", "mrr", "ended_at"),
    shown=("account_id", "started_at"),
    description="billing periods: one row per plan held (add-ons and other products beside it)",
    columns=(
        Column("account_id", "id", required=True, nullable=False),
        Column(
            "plan",
            "string",
            nullable=False,
            description="trial, basic, pro, ... (without it, the plan feature is left out)",
        ),
        Column(
            "mrr",
            "float",
            required=True,
            nullable=False,
            min_value=0,
            description="monthly recurring revenue",
        ),
        Column(
            "billing_period",
            "string",
            allowed=BILLING_PERIODS,
            description="monthly, quarterly or annual (month, yearly, 12 months, ... read as these)",
        ),
        Column("started_at", "timestamp", required=True, nullable=False),
        Column("ended_at", "timestamp", required=True, description="null while active"),
        Column(
            "end_reason",
            "string",
            description="null while active; upgrade/downgrade (plan change), a voluntary reason, or payment_failed",
        ),
        Column(
            "canceled_at",
            "timestamp",
            description="when the customer asked to cancel (Stripe, Chargebee, Recurly); the "
            "subscription ends later, at ended_at (null if never canceled)",
            noticed_missing=False,
        ),
    ),
)

EVENTS = TableSchema(
    name="events",
    required=True,
    description="product usage events; a 'login' event opens a session and carries its duration",
    columns=(
        Column("account_id", "id", required=True, nullable=False),
        Column("user_id", "id", description="the acting user (null for system events)"),
        Column("ts", "timestamp", required=True, nullable=False),
        Column("event_type", "string", required=True, nullable=False),
        Column(
            "session_id",
            "id",
            description="the app's own session (sessions are its events, split at midnight, "
            "instead of inactivity gaps); empty or negative (Amplitude's -1): none",
            noticed_missing=False,
        ),
        Column(
            "duration_s",
            "float",
            min_value=0,
            description="time on task (session length for logins; of a roll-up row, the "
            "total of its events)",
        ),
        Column(
            "event_id",
            "id",
            description="the tracker's id of the event (Segment's messageId, Amplitude's "
            "$insert_id, Snowplow's event_id): rows of one account with the same id are one "
            "event re-sent, counted once; empty: none",
            noticed_missing=False,
        ),
        Column(
            "count",
            "int",
            nullable=False,
            min_value=0,
            description="events the row stands for, in a log rolled up per account, day and "
            "event type (a warehouse's daily usage); without it, each row is one event",
            noticed_missing=False,
        ),
    ),
)

TICKETS = TableSchema(
    name="tickets",
    required=False,
    key=("ticket_id",),
    description="support tickets",
    columns=(
        Column("account_id", "id", required=True, nullable=False),
        Column("ticket_id", "id", required=True, nullable=False),
        Column("created_at", "timestamp", required=True, nullable=False),
        Column("resolved_at", "timestamp", description="null while open"),
        Column(
            "category",
            "string",
            allowed=TICKET_CATEGORIES,
            description="bug, usability, how_to, billing",
        ),
        Column("severity", "string", allowed=SEVERITIES, description="low, medium, high, critical"),
    ),
)

SURVEYS = TableSchema(
    name="surveys",
    required=False,
    key=("account_id", "ts"),
    description="NPS survey responses",
    columns=(
        Column("account_id", "id", required=True, nullable=False),
        Column("ts", "timestamp", required=True, nullable=False),
        Column(
            "nps",
            "int",
            required=True,
            nullable=False,
            min_value=0,
            max_value=10,
            description="0-10",
        ),
    ),
)

CAMPAIGNS = TableSchema(
    name="campaigns",
    required=False,
    key=("account_id", "campaign"),
    description=(
        "retention campaign contacts: one row per account and campaign, offered (treated) or "
        "held out at random as control; each campaign needs both arms"
    ),
    when_missing="uplift models and treatment status need it",
    columns=(
        Column("account_id", "id", required=True, nullable=False),
        Column(
            "ts",
            "timestamp",
            required=True,
            nullable=False,
            description="contact time (for control rows: when they would have been contacted)",
        ),
        Column("campaign", "string", required=True, nullable=False, description="campaign name"),
        Column(
            "treated",
            "bool",
            required=True,
            nullable=False,
            description="true: offered; false: held out as control (true/false, 1/0)",
        ),
        Column("offer", "string", description="the offer made (null for control rows)"),
        Column(
            "cost",
            "float",
            min_value=0,
            description="contact and offer cost of the row (0 for control rows)",
        ),
    ),
)

TABLES: dict[str, TableSchema] = {
    t.name: t for t in (ACCOUNTS, SUBSCRIPTIONS, EVENTS, TICKETS, SURVEYS, CAMPAIGNS)
}
# the names of what a dataset folder's files are read as (its tables, and dataset.json): what a
# command writing into that folder must never replace
DATASET_FILES = (*TABLES, "dataset")

# The simulator's latent hazard; not part of a customer's data, used for the oracle AUC.
TRUTH_TABLE = "truth"
