"""Fuzzing, bounded for CI: the config loader and the report's escaping against arbitrary input.

The parser has its own properties (tests/test_parsing_properties.py). Raise the budget with
KOS_FUZZ_EXAMPLES (for example 100000) for a longer local run.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from html.parser import HTMLParser

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kos import config as kos_config
from kos.text import printable
from report.render import render_html, render_text
from storage.metrics_tables import Period, Results

FUZZ = settings(max_examples=int(os.environ.get("KOS_FUZZ_EXAMPLES", "300")), deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

SECTIONS = ["kafka", "stack", "mysql", "shipper", "spark", "airflow", "nope"]
KEYS = ["bootstrap_servers", "partitions", "security_protocol", "paths", "poll_seconds", "lines_per_record",
        "compression", "port", "master", "packages", "retries", "password", "start_from", "unknown"]
values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6)


def toml_value(value: object) -> str:
    """A TOML rendering where one exists, else something TOML must reject."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value).replace("inf", "inf").replace("nan", "nan")
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    assert isinstance(value, dict), value
    return "{" + ", ".join(f'"{k}" = {toml_value(v)}' for k, v in value.items()) + "}"


@FUZZ
@given(st.dictionaries(st.sampled_from(SECTIONS), st.dictionaries(st.sampled_from(KEYS), values, max_size=4),
                       max_size=4),
       st.dictionaries(st.sampled_from([f"KOS_{s}_{k}".upper() for s in SECTIONS for k in KEYS]),
                       st.text(max_size=12), max_size=3),
       st.binary(max_size=40))
def test_the_config_loader_loads_or_fails_with_one_line_naming_the_problem(tmp_path, tables, environ, noise):
    text = "\n".join(f"[{name}]\n" + "\n".join(f"{k} = {toml_value(v)}" for k, v in table.items())
                     for name, table in tables.items())
    for content in (text.encode(), noise, text.encode() + noise):
        path = tmp_path / "conf" / "kos.toml"
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(content)
        try:
            kos_config.load(path, environ)
        except kos_config.ConfigError as exc:  # anything else fails the test
            assert str(exc) and "\n" not in str(exc), repr(exc)


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.cells: list[str] = []
        self._in: bool = False

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self._in = tag == "td"
        if self._in:
            self.cells.append("")

    def handle_endtag(self, tag):
        self._in = False if tag == "td" else self._in

    def handle_data(self, data):
        if self._in:
            self.cells[-1] += data


log_text = st.text(max_size=60)


@FUZZ
@given(st.lists(st.tuples(log_text, st.integers(1, 10**9)), max_size=5), log_text)
def test_log_text_is_shown_never_interpreted(services, process):
    ranked = [(i + 1, s, n) for i, (s, n) in enumerate(services)]
    results = Results(Period(datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC)), "hour", 5,
                      1, datetime(2026, 1, 1), datetime(2026, 1, 1), ranked,
                      [(1, process, 1)], [(datetime(2026, 1, 1), process, 1)], datetime(2026, 1, 2, tzinfo=UTC))
    page = _Tags()
    page.feed(render_html(results, {}))
    page.close()
    assert [t for t in page.tags if t not in ("html", "head", "meta", "title", "style", "body", "h1", "dl", "dt",
                                              "dd", "table", "caption", "thead", "tbody", "tr", "th", "td", "p")] == []
    shown = [printable(s) for s, _ in services]
    assert page.cells[1::3][:len(services)] == shown
    text = render_text(results)
    assert not any(ch in text for ch in "\x1b\x07\x9b\u202e\u200b")
