"""The CLI's listing output: Docker's table, -q, --format json and the Go-template subset."""

from __future__ import annotations

import json

import pytest

from ansible_collections.berth.engine.plugins.module_utils.cli.output import (
    Column,
    compile_template,
    format_rows,
    human_duration,
    human_size,
    short_id,
    since,
)
from ansible_collections.berth.engine.plugins.module_utils.errors import InvalidInput

COLUMNS = [Column("REPOSITORY", "Repository"), Column("TAG", "Tag"), Column("IMAGE ID", "ID"),
           Column("SIZE", "Size")]
ROWS = [{"Repository": "busybox", "Tag": "latest", "ID": "0123456789ab", "Size": "4.26MB",
         "Labels": {"a": "1"}, "Names": ["x", "y"]},
        {"Repository": "debian", "Tag": "bookworm", "ID": "ba9876543210", "Size": "117MB", "Labels": {},
         "Names": []}]


def test_table_pads_each_column_to_its_widest_cell_plus_three() -> None:
    lines = format_rows(ROWS, COLUMNS).splitlines()
    assert lines[0] == "REPOSITORY   TAG        IMAGE ID       SIZE"
    assert lines[1] == "busybox      latest     0123456789ab   4.26MB"
    assert format_rows([], COLUMNS) == "REPOSITORY   TAG   IMAGE ID   SIZE\n"


def test_quiet_json_and_templates() -> None:
    assert format_rows(ROWS, COLUMNS, quiet=True) == "0123456789ab\nba9876543210\n"
    assert [json.loads(line)["Tag"] for line in format_rows(ROWS, COLUMNS, fmt="json").splitlines()] == \
        ["latest", "bookworm"]
    assert format_rows(ROWS, COLUMNS, fmt="{{.Repository}}:{{.Tag}}") == "busybox:latest\ndebian:bookworm\n"
    assert format_rows(ROWS[:1], COLUMNS, fmt="{{json .Labels}} {{index .Labels \"a\"}} {{join .Names \",\"}}"
                       " {{upper .Tag}}") == '{"a": "1"} 1 x,y LATEST\n'
    table = format_rows(ROWS, COLUMNS, fmt="table {{.ID}}\\t{{.Repository}}").splitlines()
    assert table[0].split() == ["IMAGE", "ID", "REPOSITORY"] and table[2].split() == ["ba9876543210", "debian"]


@pytest.mark.parametrize("bad", ["{{.ID", "{{printf \"%s\" .ID}}", "{{range .Names}}x{{end}}", "{{}}"])
def test_templates_outside_the_subset_are_refused_naming_the_flag(bad: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        compile_template(bad)
    assert caught.value.field == "--format"


def test_docker_units() -> None:
    assert [human_size(n) for n in (0, 999, 1000, 4_260_000, 117_000_000, 2.5e12)] == \
        ["0B", "999B", "1kB", "4.26MB", "117MB", "2.5TB"]
    assert [human_duration(s) for s in (0.5, 1, 30, 70, 600, 3700, 7300, 86400 * 3, 86400 * 20, 86400 * 90,
                                        86400 * 800)] == \
        ["Less than a second", "1 second", "30 seconds", "About a minute", "10 minutes", "About an hour",
         "2 hours", "3 days", "2 weeks", "3 months", "2 years"]
    assert since(100.0, now=100.0 + 7300) == "2 hours ago" and since(None) == ""
    assert short_id("sha256:" + "ab" * 32) == "abababababab" and short_id("x" * 64, no_trunc=True) == "x" * 64
