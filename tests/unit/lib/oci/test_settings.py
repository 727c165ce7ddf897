"""OciSettings: one type from the config, the agent's parameters and fence_oci's
options, one set of defaults, and one way back to CIB parameters."""

from typing import Any, Dict

import pytest

from pcs_oci.common import agent_params, reports
from pcs_oci.lib.errors import ConfigError
from pcs_oci.lib.oci import settings
from pcs_oci.lib.oci.api import OciApi
from pcs_oci.lib.oci.settings import (
    OciSettings,
    backoff_seconds,
    check_settings,
    fit_budget,
    worst_case_seconds,
)


@pytest.mark.parametrize(
    "field, value",
    [
        ("endpoint", "http://127.0.0.1:8080/20160918"),
        ("endpoint", "iaas.us-ashburn-1.oraclecloud.com"),
        ("endpoint", "http://host:notaport"),
        ("proxy", "proxy:3128"),
        ("auth", "password"),
        ("timeout", 0),
        ("max_attempts", 0),
        ("max_total_seconds", -1),
    ],
)
def test_bad_settings_are_one_line_errors(field: str, value: Any) -> None:
    s = OciSettings()._replace(**{field: value})
    problems = check_settings(s)
    assert [p.code for p in problems] == [reports.OCI_INVALID_CONFIG]
    assert problems[0].where == "oci." + field
    assert "\n" not in problems[0].render()
    with pytest.raises(ConfigError):
        OciApi(s)


def test_endpoint_with_path_names_the_path() -> None:
    (problem,) = check_settings(OciSettings(endpoint="http://127.0.0.1:1/20160918"))
    assert "has a path (/20160918)" in problem.message
    assert "scheme://host[:port]" in problem.hint


@pytest.mark.parametrize("endpoint", ["http://127.0.0.1:8080", "https://iaas.x.oraclecloud.com/"])
def test_good_endpoints(endpoint: str) -> None:
    assert check_settings(OciSettings(endpoint=endpoint)) == []


def test_worst_case_seconds() -> None:
    api_key = OciSettings(auth="api_key", timeout=10, max_total_seconds=20, retry_base_seconds=1)
    # 20 s budget + 4 s last backoff + (3 + 10) s last attempt + 2 s local
    assert worst_case_seconds(api_key) == 39.0
    assert worst_case_seconds(api_key._replace(auth="instance_principal")) == 59.0
    assert worst_case_seconds(api_key._replace(timeout=2)) == 30.0


def test_backoff_doubles_up_to_four_bases() -> None:
    s = OciSettings(retry_base_seconds=0.5)
    assert [backoff_seconds(s, n) for n in (1, 2, 3, 4, 5)] == [0.5, 1.0, 2.0, 2.0, 2.0]


def test_fit_budget_shrinks_to_the_op_timeout() -> None:
    fitted = fit_budget(OciSettings(), 15)
    assert worst_case_seconds(fitted) <= 15 and fitted.max_total_seconds >= 1
    assert fit_budget(OciSettings(), 1000) == OciSettings()


# ---------------------------------------------------------------- one set of defaults


def test_defaults_are_the_agent_contract() -> None:
    s = OciSettings()
    specs = {p.name: p.default for p in agent_params.OCI_PARAMETERS}
    options = {o.name: o.default for o in agent_params.FENCE_OPTIONS}
    for name, value in [
        ("auth", s.auth),
        ("oci_config_file", s.config_file),
        ("oci_profile", s.profile),
        ("api_timeout", str(s.timeout)),
    ]:
        assert specs[name] == options[name] == value, name
    assert s.config_file == "/root/.oci/config"
    # Every source gives the same settings when nothing is set.
    assert OciSettings.from_config({}) == OciSettings.from_params({})
    assert OciSettings.from_params({}) == OciSettings.from_fence_options({})
    assert OciSettings.from_params({})._replace(retry_base_seconds=1.0) == s


# ---------------------------------------------------------------- from the config file


def test_from_config() -> None:
    s = OciSettings.from_config(
        {"auth": "api_key", "config_file": "/x", "region": "r", "timeout": 7}
    )
    assert (s.auth, s.config_file, s.profile, s.region, s.timeout) == (
        "api_key",
        "/x",
        "DEFAULT",
        "r",
        7,
    )
    assert s.max_attempts == settings.DEFAULT_MAX_ATTEMPTS


def test_to_document_leaves_out_what_the_auth_does_not_use() -> None:
    assert OciSettings.from_config({}).to_document() == {
        "auth": "instance_principal",
        "timeout": 10,
    }
    assert OciSettings.from_config({"auth": "api_key", "proxy": "http://p:1"}).to_document() == {
        "auth": "api_key",
        "config_file": "/root/.oci/config",
        "profile": "DEFAULT",
        "proxy": "http://p:1",
        "timeout": 10,
    }


# ---------------------------------------------------------------- from agent parameters


def test_from_params() -> None:
    s = OciSettings.from_params(
        {
            "auth": "api_key",
            "oci_config_file": "/etc/oci/config",
            "oci_profile": "HA",
            "region": "eu-frankfurt-1",
            "endpoint": "",
            "api_timeout": "7",
            "ip": "10.0.0.1",  # not ours: ignored
        }
    )
    assert (s.auth, s.config_file, s.profile, s.region, s.endpoint, s.timeout) == (
        "api_key",
        "/etc/oci/config",
        "HA",
        "eu-frankfurt-1",
        None,
        7,
    )
    assert OciSettings.from_params({"api_timeout": "2.5"}).timeout == 2.5


@pytest.mark.parametrize(
    "values, name",
    [
        ({"auth": "password"}, "auth"),
        ({"auth": "API_KEY"}, "auth"),
        ({"api_timeout": "-3"}, "api_timeout"),
        ({"api_timeout": "0"}, "api_timeout"),
        ({"api_timeout": "nan"}, "api_timeout"),
        ({"api_timeout": "1e9"}, "api_timeout"),
    ],
)
def test_bad_params_name_the_parameter(values: Dict[str, str], name: str) -> None:
    with pytest.raises(ConfigError) as e:
        OciSettings.from_params(values)
    (report,) = e.value.reports
    assert report.code == reports.OCI_INVALID_CONFIG and report.where == name
    assert report.message.startswith(name + ": ") and "\n" not in report.message


def test_retry_base_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(settings.RETRY_BASE_ENV, "0.05")
    assert OciSettings.from_params({}).retry_base_seconds == 0.05
    assert OciSettings.from_config({}).retry_base_seconds == 0.05
    assert OciSettings.from_fence_options({}).retry_base_seconds == 0.05


@pytest.mark.parametrize(
    "value, expected",
    [("0.1", 0.1), (" 2 ", 2.0), ("0", 1.0), ("100", 1.0), ("abc", 1.0), ("nan", 1.0), ("", 1.0)],
)
def test_retry_base_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, value: str, expected: float
) -> None:
    monkeypatch.setenv(settings.RETRY_BASE_ENV, value)
    assert settings.retry_base_seconds() == expected


# ---------------------------------------------------------------- from fence_oci's options


def test_from_fence_options() -> None:
    options = {
        "--auth": "API_KEY",  # fencing.py upper-cases select values
        "--oci-config-file": "/etc/oci/config",
        "--oci-profile": "HA",
        "--region": "eu-frankfurt-1",
        "--endpoint": "https://iaas.example.com",
        "--proxy": "http://proxy:3128",
        "--api-timeout": "7",
        "--plug": "ocid1.instance.oc1..x",  # fencing.py's: ignored
    }
    s = OciSettings.from_fence_options(options)
    assert (s.auth, s.config_file, s.profile, s.region, s.endpoint, s.proxy, s.timeout) == (
        "api_key",
        "/etc/oci/config",
        "HA",
        "eu-frankfurt-1",
        "https://iaas.example.com",
        "http://proxy:3128",
        7,
    )


# ---------------------------------------------------------------- to CIB parameters


def test_to_params_leaves_defaults_out() -> None:
    assert OciSettings().to_params() == {}
    assert OciSettings(region="r", proxy="http://p:1", timeout=7).to_params() == {
        "region": "r",
        "proxy": "http://p:1",
        "api_timeout": "7",
    }
    assert OciSettings(timeout=2.5).to_params() == {"api_timeout": "2.5"}


def test_api_key_always_names_its_file_and_profile() -> None:
    assert OciSettings(auth="api_key").to_params() == {
        "auth": "api_key",
        "oci_config_file": "/root/.oci/config",
        "oci_profile": "DEFAULT",
    }
    # Only api_key reads them: with instance principals they are not written.
    assert OciSettings(config_file="/etc/oci/config", profile="HA").to_params() == {}


@pytest.mark.parametrize(
    "s",
    [
        OciSettings(),
        OciSettings(auth="api_key", config_file="/etc/oci/config", profile="HA", timeout=5),
        OciSettings(region="r", endpoint="https://e:1", proxy="http://p:1", timeout=2.5),
    ],
)
def test_the_agents_read_back_what_configure_writes(s: OciSettings) -> None:
    cib = s.to_params()
    assert set(cib) <= set(agent_params.CONNECTION_PARAMETERS)
    fence_options = {"--" + k.replace("_", "-"): v for k, v in cib.items()}
    for read_back in (OciSettings.from_params(cib), OciSettings.from_fence_options(fence_options)):
        assert read_back._replace(retry_base_seconds=s.retry_base_seconds) == s
