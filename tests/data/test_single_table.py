"""The single-table (CRM export) format."""

from __future__ import annotations

import gzip
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from churnlab.data import DataValidationError, load_customer_table, map_label

CSV = """customerID,gender,tenure,Contract,MonthlyCharges,TotalCharges,Churn
7590-VHVEG,Female,1,Month-to-month,29.85,29.85,No
5575-GNVDE,Male,34,One year,56.95,1889.5,No
3668-QPYBK,Male,2,Month-to-month,53.85,108.15,Yes
7795-CFOCW,Male,45,One year,42.30,1840.75,No
9237-HQITU,Female,0,Month-to-month,70.70, ,Yes
"""


def _write(tmp_path, text, name="crm.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_labels_numbers_and_blanks(tmp_path):
    ds = load_customer_table(
        _write(tmp_path, CSV), id_col="customerID", label_col="Churn", duration_col="tenure"
    )
    df = ds.con.execute(ds["customers"])
    assert df["Churn"].tolist() == [0, 0, 1, 0, 1]
    assert pd.api.types.is_float_dtype(df["TotalCharges"])  # numbers stored as text
    assert df["TotalCharges"].isna().sum() == 1  # the " " blank
    assert pd.api.types.is_string_dtype(df["Contract"])
    s = ds.summary()
    assert (s["customers"], s["churned_customers"]) == (5, 2)
    assert ds.roles == {"id": "customerID", "label": "Churn", "duration": "tenure"}


def test_numbers_written_for_people_are_read_as_numbers(tmp_path):
    """Currency symbols, thousands separators, percent signs and accounting negatives, as CRM
    exports write them, are numbers (and a notice names those columns); a column whose values
    could mean two things (decimal commas, percent beside plain numbers) stays text."""
    text = (
        "id,monthly,total,satisfaction,refund,euro,decimal_comma,mixed,code,Churn\n"
        '1,$55.09,"2,644.32",93%,(12.00),12.00 €,"12,5",93%,0001-A,Yes\n'
        '2,"$1,234.50",234.84,7 %,5.00,-€3,"3,75",0.5,0002-B,No\n'
        "3,, ,,,,,,0003-C,No\n"
    )
    ds = load_customer_table(_write(tmp_path, text), id_col="id", label_col="Churn")
    df = ds.con.execute(ds["customers"]).set_index("id")
    assert df.monthly.tolist()[:2] == [55.09, 1234.5] and pd.isna(df.monthly.iloc[2])
    assert df.total.tolist()[:2] == [2644.32, 234.84] and pd.isna(df.total.iloc[2])
    assert df.satisfaction.tolist()[:2] == [0.93, 0.07]
    assert df.refund.tolist()[:2] == [-12.0, 5.0] and df.euro.tolist()[:2] == [12.0, -3.0]
    for col in ("decimal_comma", "mixed", "code"):
        assert pd.api.types.is_string_dtype(df[col]), col
    assert ds.notices == [
        "column(s) ['monthly', 'total', 'satisfaction', 'refund', 'euro']: numbers written with "
        "currency symbols, thousands separators or percent signs are read as numbers (93% as "
        "0.93, (12.00) as -12)"
    ]


def test_numbers_are_read_the_same_by_the_fast_cast_and_the_careful_way(tmp_path):
    """Clean columns take pyarrow's cast, the rest pandas' careful way; a column reads as it
    did before the fast cast: padded numbers as numbers, any word as text; "nan" among numbers
    is a missing value (as NA, N/A, - and ? are)."""
    text = (
        "id,clean,padded,words,nan_text,sci,Churn\n"
        "a,1.5,1,x,nan,1e3,Yes\n"
        "b,,2 ,y,1,-2.5E-1,No\n"
        "c,-3,  4,2,2,+7,No\n"
    )
    ds = load_customer_table(_write(tmp_path, text), id_col="id", label_col="Churn")
    df = ds.con.execute(ds["customers"])
    assert df["clean"].tolist()[::2] == [1.5, -3.0] and pd.isna(df["clean"][1])
    assert df["padded"].tolist() == [1.0, 2.0, 4.0]
    assert df["sci"].tolist() == [1000.0, -0.25, 7.0]
    assert pd.api.types.is_string_dtype(df["words"])
    assert pd.isna(df["nan_text"][0]) and df["nan_text"].tolist()[1:] == [1.0, 2.0]


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["Yes", "No", " yes "], [1, 0, 1]),
        (["1", "0", "1.0"], [1, 0, 1]),
        (["true", "FALSE", "T"], [1, 0, 1]),
        (["churned", "active", "Churned"], [1, 0, 1]),
        (["Cancelled", "Active", "canceled"], [1, 0, 1]),
        # an export in another language
        (["Oui", "Non", "Ja", "Nein", "Sí", "No", "Sim", "Não", "Tak", "Nie"], [1, 0] * 5),
        (["ja", "nee", "JA", "nej", "nei"], [1, 0, 1, 0, 0]),
        # a trailing full stop, as some telecom exports write their flags
        (["True.", "False.", " false. "], [1, 0, 0]),
    ],
)
def test_label_spellings(values, expected):
    assert map_label(pd.Series(values)).tolist() == expected


def test_unmappable_labels_name_rows(tmp_path):
    text = CSV.replace("42.30,1840.75,No", "42.30,1840.75,maybe")
    with pytest.raises(DataValidationError) as info:
        load_customer_table(_write(tmp_path, text), id_col="customerID", label_col="Churn")
    (p,) = info.value.problems
    assert (p.table, p.column) == ("customers", "Churn")
    assert "'maybe'" in p.message and "row 5 customerID='7795-CFOCW'" in p.examples[0]


def test_a_label_in_other_words_is_read_by_naming_its_churned_value(tmp_path):
    """'Attrited Customer' / 'Existing Customer' is no spelling churnlab knows: the problem says
    how to name the churned value, and with ``positive`` (any case) that value is churned and
    every other is not, said in a notice. A value no row has is a problem, not 'nobody churned'."""
    text = CSV.replace(",No\n", ",Existing Customer\n").replace(",Yes\n", ",Attrited Customer\n")
    path = _write(tmp_path, text)
    with pytest.raises(DataValidationError) as info:
        load_customer_table(path, id_col="customerID", label_col="Churn")
    (p,) = info.value.problems
    assert "--positive 'Attrited Customer'" in p.message and "data.positive" in p.message

    ds = load_customer_table(
        path, id_col="customerID", label_col="Churn", positive=" attrited customer"
    )
    assert ds.con.execute(ds["customers"]).Churn.tolist() == [0, 0, 1, 0, 1]
    (notice,) = [n for n in ds.notices if n.startswith("customers.Churn")]
    assert notice == (
        "customers.Churn: ' attrited customer' read as churned, every other value as not "
        "churned: 'Existing Customer' (3 rows)"
    )
    with pytest.raises(DataValidationError) as info:
        load_customer_table(path, id_col="customerID", label_col="Churn", positive="Attrited")
    (p,) = info.value.problems
    assert p.message.startswith("no row has the churned value 'Attrited' (values [")
    assert "'Attrited Customer'" in p.message
    # a 0/1 label held as floats (Parquet, with a blank): 1 is 1.0
    assert map_label(pd.Series([1.0, 0.0, None, 1.0]), "1").tolist() == [1, 0, pd.NA, 1]
    # a value that usually means "stayed" named as churned: said in the notice
    ds = load_customer_table(
        _write(tmp_path, CSV), id_col="customerID", label_col="Churn", positive="No"
    )
    (notice,) = [n for n in ds.notices if n.startswith("customers.Churn")]
    assert notice.endswith("('No' usually means not churned: is it the churned value?)")


def test_rows_without_a_label_are_left_out_of_training_with_a_notice(tmp_path):
    """A CRM export carries customers whose outcome is not known yet (a blank label): they are
    left out of training, named in a notice; other rows keep their spreadsheet row numbers."""
    text = CSV.replace("56.95,1889.5,No", "56.95,1889.5,").replace("108.15,Yes", "108.15, ")
    ds = load_customer_table(_write(tmp_path, text), id_col="customerID", label_col="Churn")
    df = ds.con.execute(ds["customers"])
    assert df.customerID.tolist() == ["7590-VHVEG", "7795-CFOCW", "9237-HQITU"]
    assert df.Churn.tolist() == [0, 0, 1]
    (notice,) = [n for n in ds.notices if "no label" in n]
    assert notice.startswith("customers.Churn: 2 of 5 row(s) have no label")
    assert "row 3 customerID='5575-GNVDE'; row 4 customerID='3668-QPYBK'" in notice
    bad = text.replace("42.30,1840.75,No", "42.30,1840.75,maybe")
    with pytest.raises(DataValidationError) as info:
        load_customer_table(_write(tmp_path, bad), id_col="customerID", label_col="Churn")
    assert "row 5 customerID='7795-CFOCW'" in info.value.problems[0].examples[0]


def test_semicolon_tables_with_decimal_commas_are_read(tmp_path):
    """Excel saves CSV with semicolons where the decimal separator is a comma (most of Europe):
    the separator is taken from the header line, and numbers written 55,09, 1.889,50 or
    12,5 % are read as 55.09, 1889.5 and 0.125; text with commas stays text."""
    text = (
        "customerID;tenure;MonthlyCharges;TotalCharges;Share;Note;Churn\n"
        "7590-VHVEG;1;29,85;29,85;12,5 %;a, b;No\n"
        "5575-GNVDE;34;56,95;1.889,50;3 %;c;No\n"
        "3668-QPYBK;2;53,85;108,15;50 %;d;Yes\n"
    )
    for name in ("crm.csv", "crm.csv.gz"):
        path = tmp_path / name
        data = text.encode()
        path.write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
        ds = load_customer_table(path, id_col="customerID", label_col="Churn")
        df = ds.con.execute(ds["customers"])
        assert df.MonthlyCharges.tolist() == [29.85, 56.95, 53.85]
        assert df.TotalCharges.tolist() == [29.85, 1889.5, 108.15]
        assert df.Share.tolist() == pytest.approx([0.125, 0.03, 0.5])
        assert df.Note.tolist() == ["a, b", "c", "d"] and df.Churn.tolist() == [0, 0, 1]
        assert any("separated by semicolons" in n for n in ds.notices)


def test_semicolon_tables_read_dots_in_groups_of_three_as_thousands(tmp_path):
    """German Excel writes whole amounts with dots between thousands (42.692 is 42692): in a
    semicolon file a column whose every dotted value has groups of three digits is read so
    (it was read as 42.692 beside 836.0); a column with one dot that is no such group (1.5,
    0.125) keeps its dots as decimal points, and the id stays as written."""
    text = (
        "id;Umsatz;Rate;Share;MonthlyCharges;Churn\n"
        "1.001;42.692;1.5;0.125;43,22;No\n"
        "1.002;836;2.250;1.000;96,81;No\n"
        "1.003;12.345;3.000;0.5;12,50;Yes\n"
        "1.004;-7.000;4;2;1.234,50;Yes\n"
    )
    ds = load_customer_table(_write(tmp_path, text), id_col="id", label_col="Churn")
    df = ds.con.execute(ds["customers"])
    assert df.Umsatz.tolist() == [42692.0, 836.0, 12345.0, -7000.0]
    assert df.Rate.tolist() == [1.5, 2.25, 3.0, 4.0]
    assert df.Share.tolist() == [0.125, 1.0, 0.5, 2.0]
    assert df.MonthlyCharges.tolist() == [43.22, 96.81, 12.5, 1234.5]
    assert df.id.tolist() == ["1.001", "1.002", "1.003", "1.004"]
    (notice,) = [n for n in ds.notices if "separated by semicolons" in n]
    assert "dots read as thousands separators in column(s) 'Umsatz' ('42.692' as 42692)" in notice
    assert "Rate" not in notice and "Share" not in notice


def test_narrow_no_break_space_separates_thousands_like_a_space(tmp_path):
    """French locales write 2 895,29 with a narrow no-break space (U+202F) between thousands:
    read like a space or a no-break space (the column was left out as an identifier)."""
    text = "customerID;Total;Churn\nA;2\u202f895,29;No\nB;12,50;Yes\nC;1\u202f234\u202f567,5;No\n"
    for space in (" ", "\u00a0", "\u202f"):
        path = tmp_path / "crm.csv"
        path.write_text(text.replace("\u202f", space), encoding="utf-8")
        ds = load_customer_table(path, id_col="customerID", label_col="Churn")
        df = ds.con.execute(ds["customers"])
        assert df.Total.tolist() == [2895.29, 12.5, 1234567.5], repr(space)


def test_tab_separated_tables_with_decimal_commas_are_read_in_training_and_scoring(tmp_path):
    """A European spreadsheet's "Text (tab delimited)" export writes decimal commas: a TSV
    column whose values can only be decimal commas (43,22) and have no decimal point is read
    as numbers, with a notice (it was left out as an identifier, and scoring failed on
    '43,22'); 1,234 alone could be a thousands comma and keeps that reading, and a column
    mixing 1,5 and 2.5 stays text."""
    from churnlab.data.single_table import read_customer_rows

    text = (
        "customerID\tMonthlyCharges\tTotalCharges\tVisits\tMixed\tChurn\n"
        "A\t43,22\t2.895,29\t1,234\t1,5\tNo\n"
        "B\t96,81\t4727,07\t5,678\t2.5\tYes\n"
        "C\t\t12,5\t12\tx\tNo\n"
    )
    path = _write(tmp_path, text, "crm.tsv")
    ds = load_customer_table(path, id_col="customerID", label_col="Churn")
    df = ds.con.execute(ds["customers"])
    assert df.MonthlyCharges.tolist()[:2] == [43.22, 96.81] and pd.isna(df.MonthlyCharges[2])
    assert df.TotalCharges.tolist() == [2895.29, 4727.07, 12.5]
    assert df.Visits.tolist() == [1234.0, 5678.0, 12.0]
    assert df.Mixed.tolist() == ["1,5", "2.5", "x"]
    (notice,) = [n for n in ds.notices if "tab-separated" in n]
    assert "['MonthlyCharges', 'TotalCharges']" in notice and "decimal comma" in notice
    rows = read_customer_rows(path, {"id": "customerID", "mrr": "MonthlyCharges"}, ["TotalCharges"])
    assert rows.mrr.tolist()[:2] == [43.22, 96.81]
    assert rows.TotalCharges.tolist() == [2895.29, 4727.07, 12.5]


def test_null_markers_are_missing_values_not_text(tmp_path):
    """A numeric column with NULL or \\N (a database dump's missing value) stays numeric (it
    became a text column with a level per number); a NULL label is a blank label."""
    text = CSV.replace("56.95,1889.5,No", "56.95,NULL,No").replace("108.15,Yes", "\\N,Yes")
    text = text.replace("42.30,1840.75,No", "42.30,1840.75,NULL")
    ds = load_customer_table(_write(tmp_path, text), id_col="customerID", label_col="Churn")
    df = ds.con.execute(ds["customers"])
    assert pd.api.types.is_float_dtype(df.TotalCharges)
    assert df.TotalCharges.isna().sum() == 3  # NULL, \\N and the " " blank
    assert "7795-CFOCW" not in set(df.customerID)
    assert any("1 of 5 row(s) have no label" in n for n in ds.notices)


def test_one_class_label(tmp_path):
    text = CSV.replace(",Yes\n", ",No\n")
    with pytest.raises(DataValidationError, match="one class only"):
        load_customer_table(_write(tmp_path, text), id_col="customerID", label_col="Churn")


def test_duplicate_ids_missing_columns_and_bad_durations(tmp_path):
    text = (
        CSV.replace("3668-QPYBK", "7590-VHVEG")
        .replace("Male,34,", "Male,-3,")
        .replace(",45,", ",lots,")
    )
    with pytest.raises(DataValidationError) as info:
        load_customer_table(
            _write(tmp_path, text), id_col="customerID", label_col="Churn", duration_col="tenure"
        )
    found = {(p.column, p.message.split(" ", 1)[1]) for p in info.value.problems}
    assert ("customerID", "duplicate id(s)") in found
    assert ("tenure", "unparseable number(s)") in found
    assert ("tenure", "negative duration(s)") in found
    with pytest.raises(DataValidationError, match="label column is missing"):
        load_customer_table(_write(tmp_path, CSV), id_col="customerID", label_col="Exited")


def test_empty_table(tmp_path):
    header_only = _write(tmp_path, CSV.splitlines()[0] + "\n")
    with pytest.raises(DataValidationError, match="has a header line but no rows") as caught:
        load_customer_table(header_only, id_col="customerID", label_col="Churn")
    assert str(caught.value).startswith(f"{header_only}: ") and "\n" not in str(caught.value)
    empty = _write(tmp_path, "", "empty.csv")
    with pytest.raises(DataValidationError) as caught:
        load_customer_table(empty, id_col="customerID", label_col="Churn")
    # one line: the file, what is wrong, what it should hold
    assert str(caught.value) == (
        f"{empty}: the file is empty: expected a header line of column names, then one row per "
        "customer"
    )
    assert [p.message for p in caught.value.problems] == [str(caught.value).split(": ", 1)[1]]


LATIN1 = CSV.replace("7590-VHVEG,Female", "7590-VHVEG,Fémale")


@pytest.mark.parametrize("name", ["crm.csv", "crm.csv.gz", "crm.tsv", "crm.csv.zst"])
def test_latin1_tables_are_refused_with_a_hint_and_read_with_encoding(tmp_path, name):
    import gzip

    text = LATIN1.replace(",", "\t") if name.endswith(".tsv") else LATIN1
    path = tmp_path / name
    if name.endswith(".gz"):
        path.write_bytes(gzip.compress(text.encode("latin-1")))
    elif name.endswith(".zst"):
        import pyarrow as pa

        with pa.CompressedOutputStream(str(path), "zstd") as out:
            out.write(text.encode("latin-1"))
    else:
        path.write_bytes(text.encode("latin-1"))
    with pytest.raises(DataValidationError) as caught:
        load_customer_table(path, id_col="customerID", label_col="Churn")
    message = str(caught.value)
    assert message.startswith(f"{path}: is not utf-8 text") and "\n" not in message
    assert "--encoding latin-1" in message
    if not name.endswith(".zst"):
        assert "(byte 0xe9 on line 2)" in message
    ds = load_customer_table(path, id_col="customerID", label_col="Churn", encoding="latin-1")
    assert ds.con.execute(ds["customers"])["gender"].iloc[0] == "Fémale"


def test_unknown_encoding_is_named(tmp_path):
    from churnlab.errors import ChurnlabError

    with pytest.raises(ChurnlabError, match="unknown text encoding 'latn-1'"):
        load_customer_table(
            _write(tmp_path, CSV), id_col="customerID", label_col="Churn", encoding="latn-1"
        )


def test_compressed_tab_separated_and_parquet_tables_read_alike(tmp_path):
    import gzip

    import duckdb

    csv = _write(tmp_path, CSV)
    (tmp_path / "crm.csv.gz").write_bytes(gzip.compress(CSV.encode()))
    _write(tmp_path, CSV.replace(",", "\t"), "crm.tsv")
    duckdb.read_csv(str(csv), all_varchar=True).write_csv(
        str(tmp_path / "crm.csv.zst"), compression="zstd"
    )
    pd.read_csv(csv, dtype=str, keep_default_na=False).to_parquet(tmp_path / "crm.parquet")

    def load(name):
        ds = load_customer_table(
            tmp_path / name, id_col="customerID", label_col="Churn", duration_col="tenure"
        )
        return ds.con.execute(ds["customers"])

    expected = load("crm.csv")
    assert expected["TotalCharges"].isna().sum() == 1  # the " " blank is still a blank
    for name in ("crm.csv.gz", "crm.tsv", "crm.csv.zst", "crm.parquet"):
        pd.testing.assert_frame_equal(load(name), expected, obj=name)


def test_unreadable_tables_are_named(tmp_path):
    bad_type = _write(tmp_path, CSV, "crm.xlsx")
    with pytest.raises(DataValidationError, match=r"(?s)crm\.xlsx.*expected one of .*\.csv\.gz"):
        load_customer_table(bad_type, id_col="customerID", label_col="Churn")
    not_gzip = _write(tmp_path, CSV, "crm.csv.gz")  # plain text behind a .gz name
    with pytest.raises(DataValidationError, match=r"(?s)crm\.csv\.gz.*cannot be read as \.csv\.gz"):
        load_customer_table(not_gzip, id_col="customerID", label_col="Churn")
    not_zstd = _write(tmp_path, CSV, "crm.csv.zst")
    with pytest.raises(
        DataValidationError, match=r"(?s)crm\.csv\.zst.*cannot be read as \.csv\.zst"
    ):
        load_customer_table(not_zstd, id_col="customerID", label_col="Churn")


@pytest.mark.parametrize(
    ("top", "unit", "looks_like"),
    [
        (72, "days", "months or weeks"),
        (400, "days", None),
        (72, "months", None),
        (2_000, "months", "days or weeks"),
        (150, "weeks", None),
        (2_000, "weeks", "days"),
        (10, "years", None),  # a bank's tenure in whole years
        (120, "years", "months"),
    ],
)
def test_duration_unit_notice(top, unit, looks_like):
    from churnlab.data import duration_unit_notice

    notice = duration_unit_notice(pd.Series([0, 3, top, None]), unit, "tenure")
    if looks_like is None:
        assert notice is None
    else:
        assert f"looks like {looks_like}" in notice and "'tenure'" in notice
        assert "--duration-unit" in notice


def test_a_long_tail_of_months_is_no_sign_of_another_unit():
    """Insurance tenures in months (median 40) with a few 28-year policies (341 months) got
    'looks like days or weeks' from their largest value; a high quantile decides, so the tail
    passes while the same customers' tenures in days, given as months, are still named."""
    from churnlab.data import duration_unit_notice

    rng = np.random.default_rng(0)
    months = pd.Series(np.minimum(rng.exponential(55, 2_000).round() + 1, 341))
    months.iloc[:20] = 341
    assert months.median() < 45 and months.max() == 341
    assert duration_unit_notice(months, "months", "tenure_months") is None
    days = months * 30.4
    notice = duration_unit_notice(days, "months", "tenure_months")
    assert notice is not None and "looks like days or weeks" in notice
    assert "a tenth of its values are above" in notice and "median" in notice


@pytest.mark.parametrize(
    ("values", "order"),
    [
        (["28/03/2021", "01/04/2021", None, "3/4/21"], "day_first"),
        (["03/28/2021 2:30 PM", "04/01/2021 09:15"], "month_first"),
        (["28.03.2021", "01.04.2021 14:30"], "day_first"),
        (["03/04/2021", "12/11/2020"], None),  # nothing above 12: March 4 or April 3
        (["2.13.20", "1.4.22"], None),  # versions, not dates (a dotted year has four digits)
        (["31/12/2021", "12/31/2021"], None),  # both orders at once: not one column of dates
        (["2021-03-28", "28/03/2021"], None),
    ],
)
def test_the_values_decide_whether_dates_are_written_day_or_month_first(values, order):
    from churnlab.data.single_table import date_days, date_order

    col = pd.Series(values, dtype="string")
    assert date_order(col) == order
    if order is not None:  # the first value is 2021-03-28 (at 14:30 where a time is given)
        stamp = pd.Timestamp("2021-03-28 14:30" if ":" in values[0] else "2021-03-28")
        expected = (stamp - pd.Timestamp("1970-01-01")) / pd.Timedelta(days=1)
        assert date_days(col, order).iloc[0] == pytest.approx(expected)


def test_missing_value_markers_of_other_tools_are_missing_in_numbers_and_labels(tmp_path):
    """R writes NA, Excel #N/A, pandas nan, people - or ?: among numbers they are missing
    values (before, the column was left out as 'an identifier or text'), said in a notice;
    in a text column they stay values (a category may be called 'none'); an N/A label is an
    outcome not known yet, left out like a blank one."""
    text = (
        CSV.replace("29.85,29.85", "NA,29.85")
        .replace("56.95,1889.5", "#N/A,1889.5")
        .replace("53.85,108.15", "-,108.15")
        .replace("Month-to-month,70.70", "none,70.70")
        .replace("42.30,1840.75,No", "?,1840.75,N/A")
    )
    ds = load_customer_table(_write(tmp_path, text), id_col="customerID", label_col="Churn")
    df = ds.con.execute(ds["customers"])
    assert df.MonthlyCharges.tolist()[-1] == 70.70 and df.MonthlyCharges.isna().sum() == 3
    assert "none" in df.Contract.tolist()
    assert "7795-CFOCW" not in df.customerID.tolist()  # the N/A label
    (notice,) = [n for n in ds.notices if "read as missing values" in n]
    assert notice.startswith(
        "column(s) 'MonthlyCharges' (1 x 'NA', 1 x '#N/A', 1 x '-'): numbers with missing-value "
        "markers among them"
    )


def test_unknown_and_failed_formulas_in_a_number_column_are_missing(tmp_path):
    """12 'unknown' among 3,000 charges made the column categories of every number, then left
    it out as text: the strongest predictor silently gone. 'unknown' and Excel's failed
    formulas are missing-value markers, named with their counts."""
    rows = [f"C{i},{20 + i % 50}.5,{'Yes' if i % 4 == 0 else 'No'}" for i in range(100)]
    rows[3], rows[5], rows[9] = "C3,unknown,No", "C5, Unknown ,No", "C9,#DIV/0!,Yes"
    text = "id,Charges,Churn\n" + "\n".join(rows) + "\n"
    ds = load_customer_table(_write(tmp_path, text), id_col="id", label_col="Churn")
    df = ds.con.execute(ds["customers"])
    assert df.Charges.dtype == "float64" and df.Charges.isna().sum() == 3
    (notice,) = [n for n in ds.notices if "read as missing values" in n]
    assert "'Charges' (1 x 'unknown', 1 x 'Unknown', 1 x '#DIV/0!')" in notice


def test_spellings_of_one_category_are_read_as_one(tmp_path):
    """'North', 'north' and 'NORTH ' were three training categories (each with a third of the
    rows and its own coefficient); they are one, spelled as most rows spell it, with a notice.
    A category alone in its spelling keeps it, and so do the id and the label."""
    rows = [f"C{i},{['North', 'north', 'NORTH ', 'North'][i % 4]},{i},No" for i in range(40)]
    rows += ["c0,South,1,Yes", "C41, West,2,yes"]
    text = "id,Region,Visits,Churn\n" + "\n".join(rows) + "\n"
    ds = load_customer_table(_write(tmp_path, text), id_col="id", label_col="Churn")
    df = ds.con.execute(ds["customers"])
    assert df.Region.value_counts().to_dict() == {"North": 40, "South": 1, " West": 1}
    assert {"C0", "c0"} <= set(df.id)  # ids are never folded
    (notice,) = [n for n in ds.notices if "differ only in case" in n]
    assert "'Region' ('NORTH ' as 'North', 'north' as 'North')" in notice


def test_blanks_in_a_text_column_are_missing_in_training_and_scoring_with_a_notice(tmp_path):
    """A CRM export writes a missing channel as " ": it was a category of its own (1,211
    insurance rows, a reason reading 'channel:  ') while a number column read it as missing.
    Blank and spaces-only values of a text column are missing too, named with their count;
    scoring reads them the same way. A Parquet column's empty strings alike."""
    from churnlab.data.single_table import read_customer_rows

    text = (
        "id,channel,amount,Churn\n"
        "1,agent,1.5,Yes\n2, ,2.5,No\n3,online, ,No\n4,   ,4.0,Yes\n5,online,5.5,No\n"
    )
    path = _write(tmp_path, text)
    ds = load_customer_table(path, id_col="id", label_col="Churn")
    df = ds.con.execute(ds["customers"]).set_index("id")
    assert df.channel.isna().tolist() == [False, True, False, True, False]
    assert df.amount.isna().sum() == 1
    (notice,) = [n for n in ds.notices if "only spaces" in n]
    assert notice.startswith("column(s) 'channel' (2 x blank): ")
    rows = read_customer_rows(path, {"id": "id"}, ["channel"])
    assert rows.channel.isna().sum() == 2
    frame = pd.DataFrame({"id": ["a", "b", "c"], "kind": ["x", "", "y"], "Churn": [1, 0, 0]})
    frame.to_parquet(tmp_path / "t.parquet")
    ds = load_customer_table(tmp_path / "t.parquet", id_col="id", label_col="Churn")
    assert ds.con.execute(ds["customers"]).kind.isna().sum() == 1


def test_a_number_column_with_a_few_words_is_said_to_be_read_as_categories(tmp_path):
    rows = [f"C{i},{20 + i % 50},{'Yes' if i % 4 == 0 else 'No'}" for i in range(100)]
    rows[3] = "C3,unlimited,No"
    rows[7] = "C7, refused ,Yes"
    text = "id,Age,Churn\n" + "\n".join(rows) + "\n"
    ds = load_customer_table(_write(tmp_path, text), id_col="id", label_col="Churn")
    (notice,) = [n for n in ds.notices if "'Age'" in n]
    assert "2 of 100 values: 'unlimited', 'refused'" in notice or (
        "2 of 100 values: 'refused', 'unlimited'" in notice
    )
    assert "write them blank or NA" in notice
    clean = text.replace("unlimited", "NA").replace(" refused ", "")
    assert not [
        n
        for n in load_customer_table(
            _write(tmp_path, clean, "clean.csv"), id_col="id", label_col="Churn"
        ).notices
        if "numbers but for" in n
    ]


def test_columns_named_like_churnlabs_own_are_refused_at_load(tmp_path):
    """A CRM column called ``mrr`` or ``cutoff`` would collide with the observation columns
    training adds: refused when read (validate too, not only train), a revenue column named
    ``mrr`` with the hint to give it as --mrr."""
    table = tmp_path / "crm.csv"
    pd.DataFrame(
        {"id": [1, 2, 3], "mrr": [10, 20, 30], "cutoff": "x", "churn": ["Yes", "No", "No"]}
    ).to_csv(table, index=False)
    with pytest.raises(DataValidationError) as err:
        load_customer_table(table, id_col="id", label_col="churn")
    said = [str(p) for p in err.value.problems]
    assert len(said) == 2 and said[0].startswith("customers.mrr: named like one of churnlab's")
    assert "given as --mrr mrr" in said[0] and said[1].startswith("customers.cutoff:")
    with pytest.raises(DataValidationError) as err:
        load_customer_table(table, id_col="id", label_col="churn", mrr_col="mrr")
    assert [p.column for p in err.value.problems] == ["cutoff"]


def test_a_spreadsheets_trailing_empty_rows_are_left_out_and_a_near_name_is_offered(tmp_path):
    """Excel leaves ``,,,`` lines at the end of an export: left out with a notice (before,
    each was a missing id and the table was refused). A label named ``'Churn '`` (a trailing
    space) is not ``Churn``, but the problem names it."""
    table = tmp_path / "export.csv"
    table.write_text("id,plan,Churn \n1,a,Yes\n2,b,No\n3,a,No\n,,\n,,\n")
    with pytest.raises(
        DataValidationError, match=r"label column is missing .*did you mean 'Churn '"
    ):
        load_customer_table(table, id_col="id", label_col="Churn")
    ds = load_customer_table(table, id_col="id", label_col="Churn ")
    assert ds.summary()["customers"] == 3
    assert "2 empty row(s) (every field blank) left out" in ds.notices


def test_the_label_hint_never_names_a_not_churned_value(tmp_path):
    """A 1/-1 label is refused with --positive '1' suggested, not '-1' (the first value in sort
    order, which inverted the labels); '-1' named anyway is warned of. A spreadsheet's totals
    row summing a 1/0 label is left out; a stray value in another row is pointed at instead of
    suggesting --positive '0'."""
    n = 200
    churned = np.arange(n) % 5 == 0
    ids = [f"C{i:03d}" for i in range(n)]
    pm1 = tmp_path / "pm1.csv"
    pd.DataFrame({"id": ids, "x": np.arange(n), "churn": np.where(churned, "1", "-1")}).to_csv(
        pm1, index=False
    )
    with pytest.raises(DataValidationError) as info:
        load_customer_table(pm1, id_col="id", label_col="churn")
    (p,) = info.value.problems
    assert "e.g. --positive '1' (data.positive in a spec)" in p.message
    assert "--positive '-1'" not in p.message
    ds = load_customer_table(pm1, id_col="id", label_col="churn", positive="-1")
    (notice,) = [m for m in ds.notices if m.startswith("customers.churn")]
    assert notice.endswith("('-1' usually means not churned: is it the churned value?)")

    total = tmp_path / "total.csv"
    rows = pd.DataFrame({"id": ids, "x": np.arange(n), "churn": churned.astype(int).astype(str)})
    rows.loc[n] = ["TOTAL", int(np.arange(n).sum()), str(int(churned.sum()))]
    rows.to_csv(total, index=False)
    ds = load_customer_table(total, id_col="id", label_col="churn")  # a totals row: left out
    assert any(m.startswith("customers: row 202 id='TOTAL': a totals row") for m in ds.notices)
    rows.loc[n] = ["C999", 7, "40"]  # a stray label whose row is no totals row
    rows.to_csv(total, index=False)
    with pytest.raises(DataValidationError) as info:
        load_customer_table(total, id_col="id", label_col="churn")
    (p,) = info.value.problems
    assert "values ['40']" in p.message
    assert "the other 200 rows are 1/0, so these look like stray rows (a totals row" in p.message
    assert "--positive '0'" not in p.message and "--positive '1'" in p.message
    assert p.examples == ("row 202 id='C999' churn='40'",)


def test_a_batch_header_in_another_unicode_form_or_with_stray_spaces_is_matched(tmp_path):
    """A batch saved on macOS (accents decomposed, NFD) or with ``'Montant € '`` was refused
    as "missing column(s) ['Région', ...]" although its header reads the same on screen.
    Such headers are the model's columns; an ambiguous or misspelt one is still missing, and
    the problem names the header it may mean."""
    import unicodedata

    from churnlab.data.single_table import read_customer_rows

    rows = "FR1;Bretagne;12;9,50\nFR2;Occitanie;3;12,00\n"
    roles = {"id": "N° client", "mrr": "Montant €"}
    columns = ["Région", "Durée contrat (mois)"]
    nfc = "N° client;Région;Durée contrat (mois);Montant €"
    expected = None
    for header in (
        nfc,
        unicodedata.normalize("NFD", nfc),
        "N° client; Région ;Durée contrat (mois);Montant € ",
    ):
        (path := tmp_path / "batch.csv").write_text(f"{header}\n{rows}", encoding="utf-8")
        read = read_customer_rows(path, roles, columns)
        assert list(read.columns) == ["account_id", "mrr", *columns]
        if expected is None:
            expected = read
        pd.testing.assert_frame_equal(read, expected)
    assert expected.mrr.tolist() == [9.5, 12.0] and expected["Région"].tolist()[0] == "Bretagne"
    for header, hint in (
        (  # two headers read as Région: which one the model means is a guess
            f"N° client;{unicodedata.normalize('NFD', 'Région')};Région ;Durée contrat (mois)"
            ";Montant €",
            "'Région ' for 'Région'",
        ),
        ("N° client;Region;Durée contrat (mois);Montant €", "did you mean 'Region' for 'Région'?"),
    ):
        (path := tmp_path / "batch.csv").write_text(f"{header}\n{rows}", encoding="utf-8")
        with pytest.raises(DataValidationError, match=r"missing column\(s\) \['Région'\]") as info:
            read_customer_rows(path, roles, columns)
        assert hint in str(info.value)


def _export(n=40, *, sep=",", total=None, seed=0):
    """A spreadsheet's customer export of ``n`` rows, with ``total`` (a list of cells, the id
    first) appended as its last line; the amounts, the call counts and their sums."""
    rng = np.random.default_rng(seed)
    amounts = np.round(rng.uniform(10, 90, n), 2)
    calls = rng.integers(0, 5, n)
    lines = ["id,plan,amount,calls,churned"] + [
        f"C{i:03d},{'basic' if i % 2 else 'pro'},{amounts[i]},{calls[i]},{i % 3 == 0:d}"
        for i in range(n)
    ]
    if total is not None:
        lines.append(",".join(str(c) for c in total))
    return "\n".join(lines).replace(",", sep) + "\n", amounts, calls


@pytest.mark.parametrize("word", ["TOTAL", "Grand Total", " summe ", "C999"])
def test_a_totals_row_is_left_out_of_training_and_scoring(tmp_path, word):
    """A spreadsheet's totals row (numbers = the column sums, categories blank) is no customer:
    left out with a notice naming it, in training, validate and scoring alike."""
    from churnlab.data.single_table import read_customer_rows

    _, amounts, calls = _export()
    text, _, _ = _export(total=[word, "", round(amounts.sum(), 2), calls.sum(), ""])
    path = _write(tmp_path, text)
    ds = load_customer_table(path, id_col="id", label_col="churned", mrr_col="amount")
    assert ds.summary()["customers"] == 40
    notice = f"customers: row 42 id={word!r}: a totals row (its amount and calls are the sums"
    assert any(n.startswith(notice) for n in ds.notices), ds.notices
    assert not any("no label" in n for n in ds.notices)  # left out as a total, not unlabelled
    rows = read_customer_rows(path, {"id": "id", "mrr": "amount"}, ["plan", "calls"])
    assert len(rows) == 40 and word not in rows["account_id"].tolist()


def test_a_totals_row_first_with_decimal_commas_and_an_average_row(tmp_path):
    """Totals first (some exports put them there), decimal commas, and an average row beside
    the totals row: each found on its own numbers."""
    _, amounts, calls = _export(sep=";")
    text, _, _ = _export(sep=";")
    header, *body = text.splitlines()
    total = f"Total;;{str(round(amounts.sum(), 2)).replace('.', ',')};{calls.sum()};"
    mean = f"Average;;{str(round(amounts.mean(), 2)).replace('.', ',')};;"
    text = "\n".join([header, total, *[r.replace(".", ",") for r in body], mean]) + "\n"
    ds = load_customer_table(_write(tmp_path, text), id_col="id", label_col="churned")
    assert ds.summary()["customers"] == 40
    assert any("row 2 id='Total': a totals row" in n for n in ds.notices), ds.notices
    assert any("id='Average': an average row (its amount is the mean" in n for n in ds.notices)


@pytest.mark.parametrize("case", ["large", "one column", "one column, totals word"])
def test_an_ordinary_last_customer_is_kept(tmp_path, case):
    """A last customer with a large value, or whose one number equals its column's sum, is a
    customer: every row is kept (a totals word with no matching number too)."""
    _, amounts, _ = _export()
    last = {
        "large": ["C900", "pro", 99999.0, 40, 1],
        "one column": ["C900", "pro", round(amounts.sum(), 2), 3, 1],
        "one column, totals word": ["Total", "pro", 12.5, 3, 1],
    }[case]
    text, _, _ = _export(total=last)
    ds = load_customer_table(_write(tmp_path, text), id_col="id", label_col="churned")
    assert ds.summary()["customers"] == 41
    assert not any("totals row" in n for n in ds.notices)


def test_a_tiny_table_of_round_numbers_keeps_its_rows(tmp_path):
    """1 + 2 = 3 and 10 + 20 = 30 in a three-row table is a coincidence, not a totals row."""
    text = "id,tenure,charges,churn\na,1,10,0\nb,2,20,1\nc,3,30,0\n"
    ds = load_customer_table(_write(tmp_path, text), id_col="id", label_col="churn")
    assert ds.summary()["customers"] == 3


def test_two_flagged_customers_are_not_each_others_totals(tmp_path):
    """In flag columns where two customers hold the only 1s, each one's 1 is the sum of the
    other rows: not a totals row (a sum must exceed every value it adds up)."""
    rows = ["a,1,1,3,1", "b,0,0,5,0", "c,0,0,2,0", "d,0,0,7,1", "e,0,0,4,0", "f,1,1,6,1"]
    text = "id,vip,complained,tenure,churn\n" + "\n".join(rows) + "\n"
    ds = load_customer_table(_write(tmp_path, text), id_col="id", label_col="churn")
    assert ds.summary()["customers"] == 6
    assert not [n for n in ds.notices if "totals row" in n]


def test_declared_missing_value_codes_are_missing_in_training_scoring_and_validate(
    tmp_path, monkeypatch
):
    """An insurance export writes an unknown age as -1 and a channel as '?': read as a
    number, -1 cost the model half a point of ROC-AUC. --na-values (data.na_values) declares
    such codes: missing in every column but the id and the label (a 1/-1 label stays a
    label), counted per column in a notice, kept in the spec and the model for scoring."""
    from typer.testing import CliRunner

    from churnlab.cli import app
    from churnlab.config import parse_spec, spec_from_options
    from churnlab.data.single_table import read_customer_rows
    from churnlab.features.spec import FeatureSpec
    from churnlab.scoring.load import _declared_missing as _served_missing

    text = (
        "id,age,channel,premium,Churn\n"
        "-1,-1,agent,10,1\n2,34,?,-1.0,-1\n3, -1 ,online,12,-1\n4,51,agent,999,1\n5,28,?,9,-1\n"
    )
    path = _write(tmp_path, text)
    ds = load_customer_table(
        path, id_col="id", label_col="Churn", positive="1", na_values="-1, ?,unused"
    )
    df = ds.con.execute(ds["customers"]).set_index("id")
    assert df.index.tolist() == ["-1", "2", "3", "4", "5"]  # the id is kept as written
    assert df.Churn.tolist() == [1, 0, 0, 1, 0]  # and so is the label
    assert df.age.isna().tolist() == [True, False, True, False, False]
    assert df.age.dtype == "float64" and df.channel.isna().sum() == 2
    assert df.premium.isna().tolist() == [False, True, False, False, False]
    (notice,) = [n for n in ds.notices if "--na-values" in n]
    assert notice == (
        "column(s) 'age' (2 x '-1'), 'channel' (2 x '?'), 'premium' (1 x '-1.0'): read as "
        "missing values (--na-values); --na-values 'unused': no value of the table is one"
    )
    assert ds.manifest["na_values"] == ["-1", "?", "unused"]
    rows = read_customer_rows(path, {"id": "id"}, ["age", "channel"], na_values=("-1", "?"))
    assert rows.age.isna().sum() == 2 and rows.channel.isna().sum() == 2
    kept = FeatureSpec(kind="customers", features=("age",), roles={"id": "id"}, na_values=("-1",))
    assert FeatureSpec.from_dict(kept.to_dict()).na_values == ("-1",)  # the model keeps them
    served = _served_missing(  # rows a REST client sends as written
        pd.DataFrame({"account_id": [-1, 2], "age": [-1, 30]}), SimpleNamespace(feature_spec=kept)
    )
    assert served.account_id.tolist() == [-1, 2] and served.age.isna().tolist() == [True, False]
    # the spec key, as a list or one string, and the train option
    data = {"table": str(path), "id": "id", "label": "Churn"}
    for given in ([-1, "?"], "-1,?"):
        spec = parse_spec(
            {"name": "t", "data": {**data, "na_values": given}, "model": {"family": "logistic"}}
        )
        assert spec.data.na_values == ("-1", "?")
    options = dict(data=None, cutoffs=None, horizon=None, lead=None, duration=None, mrr=None)
    spec = spec_from_options(
        None, table=path, id_col="id", label="Churn", model="logistic", na_values="-1,?",
        experiment=None, name=None, seed=None, **options,
    )  # fmt: skip
    assert spec.resolved()["data"]["na_values"] == ["-1", "?"]
    monkeypatch.chdir(tmp_path)
    res = CliRunner().invoke(
        app,
        ["validate", "--table", str(path), "--id", "id", "--label", "Churn", "--positive", "1",
         "--na-values", "-1,?"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "'age' (2 x '-1')" in " ".join(res.output.split())
