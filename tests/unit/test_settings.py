"""Settings precedence: overrides (flags) over ``REGD_*`` over the TOML file over defaults."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from regd.settings import DEFAULT_ADDR, Settings, load


def _toml(tmp_path: Path, text: str, name: str = "regd.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_defaults() -> None:
    settings = load(environ={})
    assert settings == Settings()
    assert settings.addr == DEFAULT_ADDR == "127.0.0.1:5000"
    assert settings.upload_ttl == 86400.0
    assert settings.upload_sweep_interval == 600.0
    assert settings.access_log is False
    assert settings.log_level == "INFO"
    assert settings.shutdown_timeout == 60.0
    assert settings.database_url == ""
    assert settings.data_dir.name == "regd"


def test_each_layer_beats_the_one_below(tmp_path: Path) -> None:
    config = _toml(
        tmp_path,
        'addr = "10.0.0.1:1000"\nupload_ttl = 10\n'
        'upload_sweep_interval = 20\nlog_level = "WARNING"\n',
    )
    environ = {"REGD_UPLOAD_TTL": "30", "REGD_UPLOAD_SWEEP_INTERVAL": "40"}
    overrides = {"upload_sweep_interval": "50"}
    settings = load(overrides, environ, config)
    assert settings.log_level == "WARNING"  # file over default
    assert settings.addr == "10.0.0.1:1000"  # file over default
    assert settings.upload_ttl == 30.0  # environment over file
    assert settings.upload_sweep_interval == 50.0  # override over environment
    assert settings.shutdown_timeout == 60.0  # untouched: the default


def test_environment_over_defaults() -> None:
    environ = {
        "REGD_ADDR": "0.0.0.0:8080",
        "REGD_DATA_DIR": "/srv/regd",
        "REGD_DATABASE_URL": "postgresql+asyncpg://db/regd",
        "REGD_UPLOAD_TTL": "1",
        "REGD_UPLOAD_SWEEP_INTERVAL": "0.2",
        "REGD_ACCESS_LOG": "1",
        "REGD_LOG_LEVEL": "DEBUG",
        "REGD_SHUTDOWN_TIMEOUT": "5",
    }
    settings = load(environ=environ)
    assert settings.addr == "0.0.0.0:8080"
    assert settings.data_dir == Path("/srv/regd")
    assert settings.database_url == "postgresql+asyncpg://db/regd"
    assert settings.effective_database_url == "postgresql+asyncpg://db/regd"
    assert settings.upload_ttl == 1.0
    assert settings.upload_sweep_interval == 0.2
    assert settings.access_log is True
    assert settings.log_level == "DEBUG"
    assert settings.shutdown_timeout == 5.0


def test_overrides_of_none_and_empty_environment_are_ignored(tmp_path: Path) -> None:
    config = _toml(tmp_path, 'addr = "10.0.0.1:1000"\n')
    settings = load(
        {"addr": None, "data_dir": None, "access_log": None},
        {"REGD_ADDR": "", "REGD_ACCESS_LOG": ""},
        config,
    )
    assert settings.addr == "10.0.0.1:1000"
    assert settings.access_log is False
    assert settings.data_dir == Settings().data_dir


def test_a_false_override_still_overrides() -> None:
    assert load({"access_log": False}, {"REGD_ACCESS_LOG": "1"}).access_log is False


def test_config_file_named_by_regd_config(tmp_path: Path) -> None:
    config = _toml(tmp_path, "upload_ttl = 3600\n")
    assert load(environ={"REGD_CONFIG": str(config)}).upload_ttl == 3600.0
    # An explicit file (``--config``) wins over REGD_CONFIG.
    other = _toml(tmp_path, "upload_ttl = 7200\n", "other.toml")
    assert load(environ={"REGD_CONFIG": str(config)}, config_file=other).upload_ttl == 7200.0


def test_the_process_environment_is_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REGD_SHUTDOWN_TIMEOUT", "7")
    assert load().shutdown_timeout == 7.0
    # An explicit environ replaces it entirely.
    assert load(environ={}).shutdown_timeout == 60.0


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1", True),
        ("true", True),
        ("TRUE", True),
        ("yes", True),
        ("on", True),
        ("0", False),
        ("false", False),
        ("no", False),
        ("off", False),
    ],
)
def test_booleans_from_the_environment(raw: str, expected: bool) -> None:
    assert load(environ={"REGD_ACCESS_LOG": raw}).access_log is expected


def test_types_from_toml(tmp_path: Path) -> None:
    config = _toml(
        tmp_path,
        "access_log = true\nupload_ttl = 90\nshutdown_timeout = 2.5\n"
        'data_dir = "~/regd-data"\nlog_level = "ERROR"\n',
    )
    settings = load(environ={}, config_file=config)
    assert settings.access_log is True
    assert settings.upload_ttl == 90.0
    assert isinstance(settings.upload_ttl, float)
    assert settings.shutdown_timeout == 2.5
    assert settings.data_dir == Path.home() / "regd-data"
    assert settings.effective_database_url == (
        f"sqlite+aiosqlite:///{Path.home() / 'regd-data' / 'regd.db'}"
    )
    assert settings.log_level == "ERROR"


def test_paths_expand_the_home_directory() -> None:
    assert load({"data_dir": "~/x"}, {}).data_dir == Path.home() / "x"
    assert load(environ={"REGD_DATA_DIR": "~/y"}).data_dir == Path.home() / "y"


def test_unknown_setting_in_the_file_is_refused(tmp_path: Path) -> None:
    config = _toml(tmp_path, 'addr = "127.0.0.1:1"\nuplod_ttl = 5\nzzz = 1\n')
    with pytest.raises(ValueError, match=r"unknown setting\(s\) uplod_ttl, zzz"):
        load(environ={}, config_file=config)


def test_malformed_file_is_refused(tmp_path: Path) -> None:
    config = _toml(tmp_path, "addr = \n")
    with pytest.raises(tomllib.TOMLDecodeError):
        load(environ={}, config_file=config)


def test_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"missing\.toml"):
        load(environ={"REGD_CONFIG": str(tmp_path / "missing.toml")})


@pytest.mark.parametrize("raw", ["soon", "1x", "1,5", "-3"])
def test_bad_durations_are_refused_naming_the_setting(raw: str) -> None:
    with pytest.raises(ValueError, match=r"^REGD_UPLOAD_TTL: invalid duration .*like 4h"):
        load(environ={"REGD_UPLOAD_TTL": raw})


@pytest.mark.parametrize(
    ("raw", "seconds"), [("1h", 3600.0), ("1d2h", 93600.0), ("90", 90.0), ("0.5", 0.5)]
)
def test_durations_are_accepted(raw: str, seconds: float, tmp_path: Path) -> None:
    assert load(environ={"REGD_UPLOAD_TTL": raw}).upload_ttl == seconds
    config = _toml(tmp_path, f'upload_ttl = "{raw}"\n')
    assert load(environ={}, config_file=config).upload_ttl == seconds


def test_a_bad_value_in_the_file_names_the_file_and_setting(tmp_path: Path) -> None:
    config = _toml(tmp_path, 'upload_ttl = "an hour"\n')
    with pytest.raises(ValueError, match=rf"^{config}: upload_ttl: invalid duration"):
        load(environ={}, config_file=config)
    with pytest.raises(ValueError, match=r"^REGD_PULLTHROUGH_MEMORY: invalid value 'lots'"):
        load(environ={"REGD_PULLTHROUGH_MEMORY": "lots"})


def test_tls_cert_and_key_go_together() -> None:
    with pytest.raises(ValueError, match="tls_cert and tls_key go together"):
        load({"tls_cert": "server.crt"}, {})


@pytest.mark.parametrize("addr", ["localhost", "127.0.0.1:", "127.0.0.1:http", "h:65536", "h:-1"])
def test_bad_addresses_are_refused(addr: str) -> None:
    with pytest.raises(ValueError, match=r"invalid (address|port)"):
        load({"addr": addr}, {})


@pytest.mark.parametrize(
    ("addr", "host", "port"),
    [
        ("127.0.0.1:5000", "127.0.0.1", 5000),
        ("0.0.0.0:0", "0.0.0.0", 0),
        (":8080", "0.0.0.0", 8080),
        ("[::1]:5000", "::1", 5000),
        ("[::]:65535", "::", 65535),
        ("registry.example:443", "registry.example", 443),
    ],
)
def test_host_and_port(addr: str, host: str, port: int) -> None:
    settings = load({"addr": addr}, {})
    assert settings.host == host
    assert settings.port == port
