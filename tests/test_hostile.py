"""Hostile and broken input, as an unlucky or hostile user would give it (issue 16).

Every case spoils the tiny project (data files, targeting.yaml, rule files, names and titles)
and runs one command. Each must end with exit code 1 (rules) or 2 (data, config, usage), no
traceback, a message with the case's key words, within a time limit, and with no file outside
.targeting-cache changed. Cases that need a real process (alias bombs, deep nesting, huge
lists) run as children, whose peak memory must stay under 500 MB.

`HANDLED` holds the inputs of the issue that now succeed (a quoted date, UTF-16 text, a window
before the data...): they must exit 0, say what they did, and leave the project alone.
"""
from __future__ import annotations

import pytest
from hostile import (
    CHILD_MEMORY_MB,
    CHILD_SECONDS,
    IN_PROCESS_SECONDS,
    Case,
    alias_bomb,
    duckdb_of,
    gzipped,
    manifest_text,
    many,
    nested,
    parquet_of,
    prepare,
    random_bytes,
    rule,
    run,
    snapshot,
)

PARQUET = "data: {manifest: m.parquet, exams: exams.csv}\nrules: [rules]\nqueries: [queries]\n"
EXAMS_PARQUET = "data: {manifest: manifest.csv, exams: e.parquet}\nrules: [rules]\nqueries: [queries]\n"
DATABASE = ("data: {database: h.duckdb, manifest: {table: manifest}, exams: {table: exams}}\n"
            "rules: [rules]\nqueries: [queries]\n")
HEAD = "shipment_id,arrival_date,port_code,mode,country_of_origin,description,declared_value,importer_id\n"
ROW = "s9,2025-01-05,1111,express,CN,HANDBAG,100,i1"


def _data(name: str, files: dict, words: tuple[str, ...], args: tuple[str, ...] = ("data", "check"),
          **more) -> Case:
    return Case(name, args, 2, words, files, **more)


def _config(name: str, text: str | bytes, words: tuple[str, ...],
            args: tuple[str, ...] = ("validate",), **more) -> Case:
    return Case(name, args, 2, words, {"targeting.yaml": text}, **more)


def _rule(name: str, text: str | bytes, words: tuple[str, ...], child: bool = False,
          **more) -> Case:
    return Case(name, ("validate",), 1, words, {"queries/q-1.yaml": text}, child, **more)


def _cut(fraction: float):
    return lambda b: b[: int(len(b) * fraction)]


def _zero_middle(b: bytes) -> bytes:
    middle = len(b) // 3
    return b[:middle] + bytes(len(b) // 3) + b[2 * middle:]


def _future_arrivals(project) -> None:
    rows = [f"a{i},2025-0{1 + i % 3}-{1 + i % 28:02d},1111,mail,CN,box,10,i1" for i in range(20_000)]
    rows[::400] = [f"f{i},2031-03-0{1 + i % 9},1111,mail,CN,box,10,i1" for i in range(50)]
    (project / "manifest.csv").write_text(HEAD + "\n".join(rows) + "\n" + manifest_text()
                                          .split("\n", 1)[1], encoding="utf-8")


def _long_field(project) -> None:
    text = manifest_text().replace("WATCH", "W" * 2_500_000)
    (project / "manifest.csv").write_text(text, encoding="utf-8")


DATA = [
    # Parquet files that are not (whole) Parquet files
    _data("parquet_empty", {"targeting.yaml": PARQUET, "m.parquet": b""},
          ("m.parquet", "error[unreadable]", "empty (0 bytes)", "Export")),
    _data("parquet_truncated", {"targeting.yaml": PARQUET,
                                "m.parquet": parquet_of("manifest.csv", "m.parquet", _cut(0.5))},
          ("m.parquet", "cut short", "footer", "again in full")),
    _data("parquet_cut_by_ten_bytes", {"targeting.yaml": PARQUET,
                                       "m.parquet": parquet_of("manifest.csv", "m.parquet",
                                                               lambda b: b[:-10])},
          ("m.parquet", "cut short")),
    _data("parquet_random_bytes", {"targeting.yaml": PARQUET, "m.parquet": random_bytes(5000)},
          ("m.parquet", "not a Parquet file", "PAR1")),
    _data("parquet_is_csv", {"targeting.yaml": PARQUET, "m.parquet": manifest_text()},
          ("m.parquet", "CSV text, not Parquet", "Rename it to .csv")),
    _data("parquet_damaged_inside", {"targeting.yaml": PARQUET,
                                     "m.parquet": parquet_of("manifest.csv", "m.parquet", _zero_middle)},
          ("m.parquet", "error[unreadable]")),
    _data("parquet_is_gzip", {"targeting.yaml": PARQUET, "m.parquet": gzipped(manifest_text())},
          ("m.parquet", "gzip-compressed", "Decompress")),
    _data("parquet_exams_empty", {"targeting.yaml": EXAMS_PARQUET, "e.parquet": b""},
          ("e.parquet", "empty (0 bytes)", "data.exams")),
    _data("parquet_empty_in_test", {"targeting.yaml": PARQUET, "m.parquet": b""},
          ("m.parquet", "empty (0 bytes)"), args=("test", "Q-1")),
    _data("parquet_truncated_in_validate",
          {"targeting.yaml": PARQUET, "m.parquet": parquet_of("manifest.csv", "m.parquet", _cut(0.6))},
          ("m.parquet", "cut short"), args=("validate",)),
    _data("parquet_one_bad_file_of_a_glob",
          {"targeting.yaml": PARQUET.replace("m.parquet", "parts/*.parquet"),
           "parts/a.parquet": parquet_of("manifest.csv", "parts/a.parquet"),
           "parts/b.parquet": random_bytes(3000, seed=2)},
          ("b.parquet", "not a Parquet file")),
    # DuckDB databases that are not (whole) databases
    _data("duckdb_empty", {"targeting.yaml": DATABASE, "h.duckdb": b""},
          ("h.duckdb", "empty (0 bytes)", "not a DuckDB database")),
    _data("duckdb_truncated", {"targeting.yaml": DATABASE, "h.duckdb": duckdb_of("h.duckdb", _cut(0.3))},
          ("h.duckdb", "damaged or incomplete", "Copy it again")),
    _data("duckdb_random_bytes", {"targeting.yaml": DATABASE, "h.duckdb": random_bytes(50_000)},
          ("h.duckdb", "not a DuckDB database")),
    _data("duckdb_is_csv", {"targeting.yaml": DATABASE, "h.duckdb": manifest_text()},
          ("h.duckdb", "CSV text, not a DuckDB database", "data.manifest")),
    _data("duckdb_is_parquet", {"targeting.yaml": DATABASE,
                                "h.duckdb": parquet_of("manifest.csv", "h.duckdb")},
          ("h.duckdb", "a Parquet file, not a DuckDB database")),
    _data("duckdb_truncated_in_candidates",
          {"targeting.yaml": DATABASE, "h.duckdb": duckdb_of("h.duckdb", _cut(0.5))},
          ("h.duckdb", "damaged or incomplete"), args=("candidates",)),
    # CSV text in the wrong encoding, shape or format
    _data("csv_latin1", {"manifest.csv": manifest_text().replace("HANDBAG", "Sac à main")
                         .encode("latin-1")},
          ("manifest.csv", "error[encoding]", "line 2", "not UTF-8", "encoding: latin-1")),
    _data("csv_latin1_exams", {"exams.csv": "exam_id,shipment_id,result\ne1,s1,discrepant\n"
                                            "e2,s2,no_discrépancy\n".encode("latin-1")},
          ("exams.csv", "line 3", "not UTF-8")),
    _data("csv_utf16_big_endian", {"manifest.csv": manifest_text().encode("utf-16-be")},
          ("manifest.csv", "UTF-16 big-endian", "Save it as UTF-8")),
    _data("csv_utf16_big_endian_bom", {"manifest.csv": b"\xfe\xff" + manifest_text().encode("utf-16-be")},
          ("manifest.csv", "UTF-16 big-endian")),
    _data("csv_field_over_2mb", {"manifest.csv": _long_field},
          ("manifest.csv", "line 4", "longer than 2,097,152 bytes", "quote"),
          absent=("WWWWWWWWWW",)),
    _data("csv_ragged_row_extra_field", {"manifest.csv": manifest_text() + ROW + ",extra\n"},
          ("manifest.csv", "error[ragged-row]", "line 10", "9 fields", "header has 8")),
    _data("csv_ragged_row_missing_fields", {"manifest.csv": manifest_text() + "s9,2025-01-05\n"},
          ("manifest.csv", "line 10", "2 fields", "header has 8")),
    _data("csv_ragged_exams", {"exams.csv": "shipment_id,result\ns1,discrepant,x\n"},
          ("exams.csv", "line 2", "3 fields", "header has 2")),
    _data("csv_unterminated_quote", {"manifest.csv": manifest_text() + 's9,"2025-01-05,1111,x,CN,a,1,i\n'},
          ("manifest.csv", "line 10", "never closed")),
    _data("csv_empty", {"manifest.csv": b""}, ("manifest.csv", "empty (0 bytes)", "header row")),
    _data("csv_random_bytes", {"manifest.csv": random_bytes(4000, seed=3)},
          ("manifest.csv", "not CSV text")),
    _data("csv_is_parquet", {"manifest.csv": parquet_of("exams.csv", "manifest.csv")},
          ("manifest.csv", "a Parquet file, not CSV text", "Rename it to .parquet")),
    _data("csv_is_gzip", {"manifest.csv": gzipped(manifest_text())},
          ("manifest.csv", "gzip-compressed data, not CSV text")),
    _data("csv_is_xlsx", {"manifest.csv": b"PK\x03\x04" + random_bytes(2000, seed=4)},
          ("manifest.csv", "ZIP archive", "Export the sheet as CSV")),
    _data("csv_blank_first_line", {"manifest.csv": "\n" + manifest_text()},
          ("manifest.csv", "first line is empty")),
    _data("csv_in_evaluate", {"manifest.csv": manifest_text() + ROW + ",x\n"},
          ("manifest.csv", "ragged-row"), args=("evaluate",)),
    # Data wrong in meaning
    _data("manifest_header_only", {"manifest.csv": HEAD},
          ("manifest.csv", "error[empty-table]", "manifest has no rows")),
    _data("manifest_header_only_candidates", {"manifest.csv": HEAD},
          ("manifest.csv", "empty-table"), args=("candidates",)),
    _data("exams_header_only", {"exams.csv": "shipment_id,result\n"},
          ("exams.csv", "error[empty-table]", "exam table has no rows")),
    _data("arrivals_dated_2031", {"manifest.csv": _future_arrivals},
          ("manifest.csv", "error[future-arrival]", "50 rows", "2031-03-0", "data.extracted",
           "implausible_arrivals: warning")),
    _data("arrivals_dated_2031_in_candidates", {"manifest.csv": _future_arrivals},
          ("future-arrival", "50 rows"), args=("candidates",)),
    _data("arrival_in_1970",
          {"manifest.csv": manifest_text() + ROW.replace("2025-01-05", "1970-01-01") + "\n"},
          ("manifest.csv", "error[early-arrival]", "1970-01-01", "data.earliest")),
    _data("arrival_after_configured_extraction",
          {"targeting.yaml": "data: {manifest: manifest.csv, exams: exams.csv, extracted: 2025-02-15}\n"},
          ("future-arrival", "data.extracted, 2025-02-15", "2 rows", "2025-03-01")),
    _data("missing_required_column", {"manifest.csv": "shipment_id,port_code\ns1,1111\n"},
          ("missing-column", "arrival_date")),
    _data("dates_not_dates", {"manifest.csv": manifest_text().replace("2025-01-05", "05/01/2025")},
          ("bad-date", "05/01/2025", "YYYY-MM-DD")),
    _data("nan_amounts", {"manifest.csv": manifest_text().replace(",100,", ",nan,")},
          ("bad-number", "nan")),
    _data("duplicate_shipments", {"manifest.csv": manifest_text() + ROW.replace("s9", "s1") + "\n"},
          ("duplicate-shipment-id", "s1")),
    _data("exam_of_unknown_shipment", {"exams.csv": "shipment_id,result\nzz,discrepant\n"},
          ("unknown-shipment", "zz")),
    _data("list_not_utf8", {"lists/brands.txt": "gucci\nherm\xe8s\n".encode("latin-1")},
          ("brands.txt", "line 2", "not UTF-8"), args=("test", "Q-1")),
]

CONFIG = [
    _config("config_not_utf8", b"data: {manifest: manifest.csv, exams: exams.csv}\n# caf\xe9\n",
            ("targeting.yaml:2:6", "0xE9", "not UTF-8")),
    _config("config_random_bytes", random_bytes(300, seed=5), ("targeting.yaml", "not UTF-8")),
    _config("config_alias_bomb", alias_bomb(10, 9).replace("where:", "x:") + "data: {manifest: m.csv}\n",
            ("targeting.yaml", "more than 200,000 YAML values"), child=True),
    _config("config_nested_deep", "data: " + "[" * 300 + "]" * 300 + "\n",
            ("targeting.yaml", "nested more than 64")),
    _config("config_recursive_alias", "data: &d {manifest: *d}\n", ("targeting.yaml", "alias *d")),
    _config("config_yaml_syntax", "data: {manifest: m.csv\n", ("targeting.yaml", "not valid YAML")),
    _config("config_is_a_list", "- data\n", ("targeting.yaml", "top level", "mapping")),
    _config("config_python_tag", "data: !!python/object/apply:os.system [echo]\n",
            ("targeting.yaml", "not valid YAML")),
    _config("config_impossible_date",
            "data: {manifest: manifest.csv, exams: exams.csv, extracted: 2025-02-30}\n",
            ("targeting.yaml", "cannot be read", "YYYY-MM-DD")),
    _config("config_extracted_not_a_date",
            "data: {manifest: manifest.csv, exams: exams.csv, extracted: yesterday}\n",
            ("data.extracted", "must be a date")),
    _config("config_implausible_arrivals_unknown",
            "data: {manifest: manifest.csv, exams: exams.csv, implausible_arrivals: ignore}\n",
            ("data.implausible_arrivals", "error, warning")),
    _config("config_unknown_encoding",
            "data: {manifest: {path: manifest.csv, encoding: klingon}, exams: exams.csv}\n",
            ("data.manifest.encoding", "klingon", "utf-8, utf-16 or latin-1")),
    _config("config_encoding_on_parquet",
            "data: {manifest: {path: m.parquet, encoding: latin-1}, exams: exams.csv}\n",
            ("only CSV files have an encoding",)),
    _config("config_limits_zero",
            "data: {manifest: manifest.csv, exams: exams.csv}\nlimits: {max_depth: 0}\n",
            ("limits.max_depth", "at least 1")),
    _config("config_limits_unknown",
            "data: {manifest: manifest.csv, exams: exams.csv}\nlimits: {max_nodes: 5}\n",
            ("limits.max_nodes", "not a limits setting")),
    _config("config_database_is_a_folder",
            "data: {database: queries, manifest: {table: m}, exams: {table: e}}\n",
            ("data.database", "does not exist")),
    Case("window_since_after_data", ("test", "Q-1", "--since", "2030-01-01"), 2,
         ("--since 2030-01-01", "after the data's last arrival", "2025-03-01")),
    Case("window_outside_data", ("test", "Q-1", "--since", "2010-01-01", "--until", "2010-12-31"), 2,
         ("holds no data", "2025-01-05 .. 2025-03-01")),
    Case("window_last_and_since", ("test", "Q-1", "--since", "2025-01-01", "--last", "12m"), 2,
         ("either --since or --last",)),
    Case("window_bad_period", ("test", "Q-1", "--last", "1e9d"), 2, ("not a period",)),
]

RULES = [
    _rule("rule_alias_bomb_529_bytes", alias_bomb(10, 9), ("error[too-many-nodes]", "aliases count"),
          child=True),
    _rule("rule_alias_bomb_476_bytes", alias_bomb(9, 9), ("error[too-many-nodes]",), child=True),
    _rule("rule_alias_bomb_through_merge_keys", "id: Q-1\nkind: query\ntitle: t\nport: '1111'\n"
          "b0: &b0 {x: 1, y: 2}\n"
          + "".join(f"b{i}: &b{i} {{<<: *b{i - 1}, k: [*b{i - 1}, *b{i - 1}, *b{i - 1}, *b{i - 1}]}}\n"
                    for i in range(1, 12)) + "where: {mode: express}\n",
          ("too-many-nodes",), child=True),
    _rule("rule_merge_key", "id: Q-1\nkind: query\ntitle: t\nport: '1111'\n"
          "base: &base {mode: express}\nwhere: {<<: *base, country_of_origin: CN}\n",
          ("error[merge-key]", "write the keys out")),
    _rule("rule_recursive_alias", "id: Q-1\nkind: query\ntitle: t\nport: '1111'\nwhere: &w {any: [*w]}\n",
          ("error[recursive-alias]", "*w")),
    _rule("rule_nested_300_not", nested(300), ("error[too-deep]", "64 levels"), child=True),
    _rule("rule_nested_3000_not", nested(3000), ("error[too-deep]",), child=True),
    _rule("rule_nested_300_all", nested(300, "all"), ("error[too-deep]",)),
    _rule("rule_nested_65_flow_lists", rule("{description: {in: " + "[" * 70 + "a" + "]" * 70 + "}}"),
          ("too-deep",)),
    _rule("rule_50_mb_in_list", lambda project: _big_rule(project, 50_000_000),
          ("error[file-too-large]", "at most 1,000,000", "list file")),
    _rule("rule_in_list_1001_values", rule("{hts_code: " + many(1001) + "}"),
          ("error[too-many-values]", "1,001 values", "in_list")),
    _rule("rule_contains_any_10000_values", rule("{description: {contains_any: " + many(10_000) + "}}"),
          ("error[too-many-values]", "10,000 values", "contains_list"), child=True),
    _rule("rule_not_in_2000_values", rule("{importer_id: {not_in: " + many(2000) + "}}"),
          ("too-many-values", "not: {importer_id: {in_list: NAME}}", "is_null: false")),
    _rule("rule_startswith_any_1500", rule("{description: {startswith_any: " + many(1500) + "}}"),
          ("too-many-values", "startswith_list")),
    _rule("rule_contains_all_1001", rule("{description: {contains_all: " + many(1001) + "}}"),
          ("too-many-values", "Split them")),
    _rule("rule_4000_conditions", rule("{any: [" + ", ".join(f"{{mode: m{i}}}" for i in range(4000)) + "]}"),
          ("error[too-many-conditions]", "4,000 conditions", "at most 2,000")),
    _rule("rule_150000_values", rule("{all: [" + ", ".join(f"{{hts_code: {many(1000, '')}}}"
                                                           for _ in range(150)) + "]}"),
          ("error[too-many-nodes]", "100,000"), child=True),
    _rule("rule_not_utf8", rule("{mode: express}", title="caf\xe9").encode("latin-1"),
          ("error[not-utf8]", "0xE9", "q-1.yaml:3:")),
    _rule("rule_utf16", rule("{mode: express}").encode("utf-16"), ("not-utf8", "0xFF")),
    _rule("rule_random_bytes", random_bytes(600, seed=6), ("not-utf8",)),
    _rule("rule_nul_character", rule("{mode: express}", title='"a\\0b"').replace('"a\\0b"', "a\x00b"),
          ("yaml-syntax",)),
    _rule("rule_is_a_list", "- id: Q-1\n- kind: query\n", ("expected-mapping",)),
    _rule("rule_empty", "", ("empty-file",)),
    _rule("rule_between_three_values", rule("{declared_value: {between: [20, 800, 5000]}}"),
          ("bad-operand", "expects two values [low, high]")),
    _rule("rule_between_text", rule("{declared_value: {between: [low, high]}}"),
          ("bad-value", "not a number")),
    _rule("rule_created_impossible_date", rule("{mode: express}", created="2024-02-30"),
          ("bad-yaml-value", "'2024-02-30' is not a date")),
    _rule("rule_created_quoted_bad_date", rule("{mode: express}", created="'2024-13-01'"),
          ("bad-date", "'2024-13-01'")),
    _rule("rule_python_object_tag", rule("{mode: !!python/object/apply:os.system [echo pwned]}"),
          ("bad-yaml-value", "!!python/object/apply:os.system", "not allowed")),
    _rule("rule_int_tag_not_int", rule("{declared_value: !!int abc}"), ("bad-yaml-value", "!!int")),
    _rule("rule_regex_too_big", rule('{description: {matches: "(a{1000}){1000}"}}'), ("bad-regex",)),
    _rule("rule_regex_unclosed", rule('{description: {matches: "(unclosed"}}'), ("bad-regex",)),
    _rule("rule_contains_list_unknown", rule("{description: {contains_list: nope}}"),
          ("unknown-list", "nope")),
    _rule("rule_huge_key", rule("{" + "k" * 100_000 + ": 1}"), ("yaml-syntax",)),
    _rule("rule_undefined_alias", rule("*nothing"), ("yaml-syntax", "nothing")),
    _rule("rule_two_documents", rule("{mode: express}") + "---\n" + rule("{mode: mail}"),
          ("yaml-syntax",)),
]


def _big_rule(project, size: int) -> None:
    """A rule file of `size` bytes: an `in` list of about 4.2 million values."""
    path = project / "queries" / "q-1.yaml"
    chunk = ", ".join(f"H{i:07d}" for i in range(10_000)) + ", "
    with path.open("w", encoding="utf-8") as out:
        out.write(rule("{hts_code: [").rstrip("\n")[:-1])
        while out.tell() < size:
            out.write(chunk)
        out.write("H]}\n")


NAMES = [
    # Names and titles that reach an error message: shown, never obeyed
    _rule("name_field_with_escape_sequence", rule('{"\\e[31mred\\e[0m": x}'),
          ("unknown-field", "red"), absent=("\x1b",)),
    _rule("name_field_with_rich_markup", rule('{"[/bold][link=https://evil.example]x": y}'),
          ("unknown-field", "[/bold]")),
    _rule("name_field_with_newline", rule('{"a\\nq-9.yaml:1:1: error[fake]": y}'),
          ("unknown-field",), absent=("\nq-9.yaml:1:1: error[fake]",)),
    _rule("name_title_markup_with_error", rule("{nope: 1}", title='"[/bold] [link=x]y[/link]"'),
          ("unknown-field",)),
    _rule("name_list_with_markup", rule('{description: {in_list: "[red]brands"}}'),
          ("unknown-list", "[red]brands")),
    _rule("name_value_with_osc_hyperlink", rule('{declared_value: "\\e]8;;https://evil\\a"}'),
          ("bad-value",), absent=("\x1b", "\x07")),
    Case("name_github_annotation_forgery", ("validate", "--format", "github"), 1,
         ("::error file=queries/q-1.yaml",),
         {"queries/q-1.yaml": rule('{"x%0A::error::forged\\nsecond": 1}')},
         absent=("\n::error::forged", "\nsecond")),
    Case("name_rule_id_with_markup", ("test", "[/bold]Q-1"), 2, ("no rule file or id",)),
    Case("name_csv_header_with_escape", ("data", "check"), 2, ("missing-column", "red"),
         {"manifest.csv": "shipment_id,\x1b[31mred,port_code\ns1,x,1111\n"}, absent=("\x1b",)),
    Case("name_data_value_with_escape", ("data", "check"), 2, ("bad-date",),
         {"manifest.csv": manifest_text().replace("2025-01-05", "\x1b]8;;https://evil\x07x")},
         absent=("\x1b", "\x07")),
    Case("name_config_path_with_markup", ("data", "check", "--config", "[/bold].yaml"), 2,
         ("[/bold].yaml", "config file not found")),
]

CASES = DATA + CONFIG + RULES + NAMES


def test_the_corpus_is_big_enough():
    assert len(CASES) >= 80
    assert len({c.name for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_hostile_input(case: Case, tmp_path, monkeypatch):
    project = prepare(case, tmp_path)
    before = snapshot(project)
    monkeypatch.chdir(project)
    monkeypatch.setenv("TARGETING_STORE", "1")
    outcome = run(case, project)
    shown = outcome.output[-3000:]
    assert "Traceback" not in outcome.output, shown
    assert outcome.code == case.code, shown
    for word in case.words:
        assert word in outcome.output, f"{word!r} not in:\n{shown}"
    for text in case.absent:
        assert text not in outcome.output, f"{text!r} in:\n{shown}"
    assert outcome.seconds < (CHILD_SECONDS if case.child else IN_PROCESS_SECONDS)
    if outcome.peak_mb is not None:
        assert outcome.peak_mb < CHILD_MEMORY_MB, f"peak {outcome.peak_mb:.0f} MB"
    assert snapshot(project) == before, "a file outside .targeting-cache changed"


# --- inputs of the issue that are now read, with a word about what was done ----------------

HANDLED = [
    Case("utf16_with_bom_is_read", ("data", "check"), 0, ("rows", "8"),
         {"manifest.csv": manifest_text().encode("utf-16")}),
    Case("utf16_without_bom_is_read", ("data", "check"), 0, ("rows", "8"),
         {"manifest.csv": manifest_text().encode("utf-16-le")}),
    Case("latin1_with_its_encoding_is_read", ("data", "check"), 0, ("rows", "8"),
         {"manifest.csv": manifest_text().replace("WATCH", "Montre été").encode("latin-1"),
          "targeting.yaml": "data: {manifest: {path: manifest.csv, encoding: latin-1}, "
                            "exams: exams.csv}\n"}),
    Case("semicolons_are_read", ("data", "check"), 0, ("rows", "8"),
         {"manifest.csv": manifest_text().replace(",", ";")}),
    Case("quoted_created_date_is_a_date", ("validate",), 0, ("4 rules valid",),
         {"queries/q-1.yaml": rule("{description: {contains: handbag}}", created="'2024-10-01'")}),
    Case("since_before_the_data_is_clipped", ("test", "Q-1", "--since", "2020-01-01"), 0,
         ("warning[window-clipped]", "2020-01-01 .. 2025-03-01 was asked for",
          "using 2025-01-05 .. 2025-03-01 (56 days)", "window 2025-01-05 .. 2025-03-01")),
    Case("last_longer_than_the_data_is_clipped", ("evaluate", "--last", "10y"), 0,
         ("warning[window-clipped]", "using 2025-01-05 .. 2025-03-01")),
    Case("arrivals_in_2031_left_out_as_asked", ("test", "Q-1"), 0,
         ("warning[future-arrival]", "left out of every backtest window",
          "window 2025-01-05 .. 2025-03-01"),
         {"manifest.csv": manifest_text() + ROW.replace("2025-01-05", "2031-03-02") + "\n",
          "targeting.yaml": "data: {manifest: manifest.csv, exams: exams.csv, "
                            "implausible_arrivals: warning}\nrules: [rules]\nqueries: [queries]\n"}),
    Case("markup_in_a_title_is_shown", ("test", "Q-1"), 0, ("[/bold] [link=https://evil.example]x",),
         {"queries/q-1.yaml": rule("{description: {contains: handbag}}",
                                   title='"[/bold] [link=https://evil.example]x[/link]"')}),
    Case("escape_sequences_in_a_title_are_dropped", ("candidates",), 0, ("Q-1",),
         {"queries/q-1.yaml": rule("{description: {contains: handbag}}", title='"\\e[2J\\e]0;pwned\\a"')},
         absent=("\x1b", "\x07")),
]


@pytest.mark.parametrize("case", HANDLED, ids=lambda c: c.name)
def test_hostile_input_now_handled(case: Case, tmp_path, monkeypatch):
    project = prepare(case, tmp_path)
    before = snapshot(project)
    monkeypatch.chdir(project)
    outcome = run(case, project)
    assert "Traceback" not in outcome.output, outcome.output
    assert outcome.code == 0, outcome.output
    for word in case.words:
        assert word in outcome.output, f"{word!r} not in:\n{outcome.output}"
    for text in case.absent:
        assert text not in outcome.output
    assert outcome.seconds < IN_PROCESS_SECONDS
    assert snapshot(project) == before


# --- the largest rules the limits allow: validate stays under 500 MB --------------------------

def _text_lists(each: int) -> str:
    """`each` lists of 1,000 values for every long-list text operator, in one rule."""
    body = ", ".join(f"{{description: {{{op}: {many(1000, f'w{i}x')}}}}}" for i in range(each)
                     for op in ("contains_any", "contains_all", "startswith_any"))
    return rule(f"{{any: [{body}]}}", tests="{no_match: [{description: nothing}]}")


LARGEST = {
    "90_text_lists": _text_lists(30),
    "95_in_lists": rule("{any: [" + ", ".join(f"{{declared_value: {many(1000, '')}}}" for _ in range(95))
                        + "]}", tests="{match: [{declared_value: 5}]}"),
    "2000_conditions": rule("{any: [" + ", ".join(f"{{description: w{i}}}" for i in range(2000)) + "]}",
                            tests="{match: [{description: w7}], no_match: [{description: x}]}"),
}


@pytest.mark.parametrize("name", sorted(LARGEST))
def test_validate_memory_on_the_largest_rules(name, tmp_path, monkeypatch):
    text = LARGEST[name]
    assert len(text.encode()) < 1_000_000
    case = Case(name, ("validate",), 0, (), {"queries/q-1.yaml": text}, child=True)
    project = prepare(case, tmp_path)
    monkeypatch.chdir(project)
    outcome = run(case, project)
    assert outcome.code == 0, outcome.output[-2000:]
    assert outcome.peak_mb is not None and outcome.peak_mb < CHILD_MEMORY_MB, outcome.peak_mb
