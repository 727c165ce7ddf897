"""Property-based: whatever the file holds, loading it is a Config or a ConfigError.

Never a traceback, never a write: the loader only reads.
"""

import json
import os
from typing import Any

import pytest

from pcs_oci.lib import config, config_validation
from pcs_oci.lib.errors import ConfigError

pytestmark = pytest.mark.property
# EL9 and EL10 package neither hypothesis nor hypothesis-jsonschema: the RPM's
# %check deselects these tests there (-m "not property"); anywhere else a
# missing library is a skip with this reason, never a collection error.
_WHY = "property tests need {} (not an EL9/EL10 package; `make venv` installs it)"
pytest.importorskip("hypothesis", reason=_WHY.format("hypothesis"))
pytest.importorskip("hypothesis_jsonschema", reason=_WHY.format("hypothesis-jsonschema"))

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis_jsonschema import from_schema  # noqa: E402

SCHEMA = config_validation.schema()
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=30,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(from_schema(SCHEMA))
def test_schema_valid_documents_load_or_report_semantic_problems(document: Any) -> None:
    problems = config_validation.validate(document)
    # The schema accepted the shape; only the checks beyond it may object.
    assert all(p.code in ("CONFIG_DUPLICATE", "CONFIG_INVALID_VALUE") for p in problems), problems
    if not problems:
        loaded = config.from_document(document)
        assert len(loaded.nodes) == len(document["nodes"])
        assert config_validation.validate(loaded.to_dict()) == []


@settings(max_examples=200, deadline=None)
@given(json_values)
def test_any_json_value_gives_reports_not_exceptions(document: Any) -> None:
    problems = config_validation.validate(document)
    assert problems, "an arbitrary value is never a valid config"
    for p in problems:
        assert p.code.startswith("CONFIG_") and p.message and "\n" not in p.render()


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.binary(max_size=400))
def test_any_bytes_load_or_config_error(tmp_path: Any, data: bytes) -> None:
    path = tmp_path / "c.json"
    path.write_bytes(data)
    before = sorted(os.listdir(tmp_path))
    try:
        config.load(str(path))
    except ConfigError as e:
        assert e.reports and all("\n" not in r.render() for r in e.reports)
    assert sorted(os.listdir(tmp_path)) == before


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(from_schema(SCHEMA))
def test_valid_documents_round_trip_through_a_file(tmp_path: Any, document: Any) -> None:
    path = tmp_path / "c.json"
    path.write_text(json.dumps(document))
    try:
        loaded = config.load(str(path))
    except ConfigError as e:
        assert all(r.code in ("CONFIG_DUPLICATE", "CONFIG_INVALID_VALUE") for r in e.reports)
    else:
        assert [v.name for v in loaded.vips] == [v["name"] for v in document["vips"]]
