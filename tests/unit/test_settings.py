"""Settings precedence (env > mwaa.yaml Sandbox: > defaults), sources, and bad values."""

from __future__ import annotations

from pathlib import Path

import pytest

from sandbox.errors import ConfigError, SpecError
from sandbox.settings import RUNTIMES, Settings, env_var, load_settings


def settings_for(project: Path, environ: dict | None = None, **overrides) -> Settings:
    return load_settings(project, environ=environ or {}, overrides=overrides or None)


def config_error(project: Path, environ: dict | None = None, **overrides) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        settings_for(project, environ, **overrides)
    assert info.value.exit_code == 2
    return info.value


def test_env_var_names():
    assert env_var("airflow_port") == "SANDBOX_AIRFLOW_PORT"
    assert env_var("mwaa_data_dir") == "SANDBOX_MWAA_DATA_DIR"


def test_defaults_without_mwaa_yaml(project):
    settings = settings_for(project)
    assert settings.project_dir == project.resolve()
    assert settings.state_dir == project.resolve() / ".sandbox"
    assert (settings.runtime, settings.host, settings.airflow_port) == ("auto", "127.0.0.1", 8080)
    assert settings.port_settings() == {"airflow_port": 8080, "postgres_port": 5432, "kafka_port": 9092,
                                        "elasticsearch_port": 9200, "aws_port": 4566}
    assert settings.offline is False and settings.mwaa_data_dir is None
    assert settings.sources and set(settings.sources.values()) == {"default"}
    assert "project_dir" not in settings.sources and "spec" not in settings.sources


def test_default_cache_dir_follows_xdg(project, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    settings = load_settings(project, environ={})
    assert settings.cache_dir == tmp_path / "xdg" / "mwaa-sandbox"
    assert settings.sources["cache_dir"] == "default"


def test_precedence_env_over_yaml_over_default(spec_writer):
    project = spec_writer("Sandbox:\n  airflow_port: 8081\n  kafka_port: 19092\n  offline: true\n")
    settings = settings_for(project, {"SANDBOX_AIRFLOW_PORT": "8082"})
    assert settings.airflow_port == 8082
    assert settings.kafka_port == 19092
    assert settings.postgres_port == 5432
    assert settings.offline is True
    assert settings.sources["airflow_port"] == "env SANDBOX_AIRFLOW_PORT"
    assert settings.sources["kafka_port"] == "mwaa.yaml"
    assert settings.sources["offline"] == "mwaa.yaml"
    assert settings.sources["postgres_port"] == "default"


def test_command_line_overrides_win(spec_writer):
    project = spec_writer("Sandbox:\n  runtime: compose\n")
    settings = settings_for(project, {"SANDBOX_RUNTIME": "compose"}, runtime="native", aws_port=None)
    assert settings.runtime == "native"
    assert settings.sources["runtime"] == "command line"
    assert settings.sources["aws_port"] == "default"  # a None override is "not given"


def test_reads_os_environ_by_default(project, monkeypatch):
    monkeypatch.setenv("SANDBOX_AWS_REGION", "eu-west-1")
    settings = load_settings(project)
    assert settings.aws_region == "eu-west-1"
    assert settings.sources["aws_region"] == "env SANDBOX_AWS_REGION"


@pytest.mark.parametrize("text, expected", [("1", True), ("yes", True), ("ON", True),
                                            ("0", False), ("false", False), ("off", False)])
def test_bool_values(project, text, expected):
    assert settings_for(project, {"SANDBOX_OFFLINE": text}).offline is expected


def test_bad_bool(project):
    error = config_error(project, {"SANDBOX_OFFLINE": "maybe"})
    assert str(error) == "SANDBOX_OFFLINE: 'maybe' is not true or false"


def test_non_integer_port_from_env(project):
    error = config_error(project, {"SANDBOX_AIRFLOW_PORT": "eighty"})
    assert str(error) == "SANDBOX_AIRFLOW_PORT: 'eighty' is not a whole number"


def test_non_integer_port_from_yaml(spec_writer):
    error = config_error(spec_writer("Sandbox:\n  postgres_port: five\n"))
    assert str(error) == "mwaa.yaml: Sandbox.postgres_port: 'five' is not a whole number"


def test_non_number_timeout(project):
    assert "is not a number" in str(config_error(project, {"SANDBOX_START_TIMEOUT": "soon"}))


def test_timeout_must_be_positive(project):
    assert "start_timeout must be a positive number of seconds" in str(config_error(project, {"SANDBOX_START_TIMEOUT": "0"}))


def test_port_out_of_range(project):
    error = config_error(project, {"SANDBOX_AWS_PORT": "70000"})
    assert str(error) == "aws_port 70000 is not a valid port (1-65535)"


def test_duplicate_ports(project):
    error = config_error(project, {"SANDBOX_KAFKA_PORT": "8080"})
    assert str(error) == "kafka_port and airflow_port are both set to 8080"
    assert error.hint == "give one of them another port with SANDBOX_KAFKA_PORT"


def test_unknown_sandbox_key(spec_writer):
    error = config_error(spec_writer("Sandbox:\n  airflow_prot: 8081\n"))
    message = str(error)
    assert message.startswith("mwaa.yaml: Sandbox.airflow_prot: is not a known setting")
    assert "airflow_port" in message


def test_unknown_env_vars_are_ignored(project):
    assert settings_for(project, {"SANDBOX_NOT_A_SETTING": "x"}).airflow_port == 8080


def test_bad_runtime(project):
    error = config_error(project, {"SANDBOX_RUNTIME": "docker"})
    assert str(error) == f"runtime 'docker' is not one of {', '.join(RUNTIMES)}"
    assert "SANDBOX_RUNTIME" in error.hint


def test_bad_runtime_from_command_line(project):
    assert "'bogus' is not one of" in str(config_error(project, runtime="bogus"))


def test_spec_errors_pass_through(spec_writer):
    with pytest.raises(SpecError, match="EnvironmentClass"):
        settings_for(spec_writer("EnvironmentClass: mw1.tiny\n"))


def test_missing_project_dir(tmp_path):
    error = config_error(tmp_path / "nope")
    assert "does not exist" in str(error) and "--project" in error.hint


def test_relative_paths_resolve_against_project(spec_writer, tmp_path):
    project = spec_writer("Sandbox:\n  mwaa_data_dir: data/mwaa\n")
    settings = settings_for(project, {"SANDBOX_CACHE_DIR": "../cache"})
    assert settings.mwaa_data_dir == project.resolve() / "data" / "mwaa"
    assert settings.cache_dir == (project / ".." / "cache").resolve()
    assert settings.cache_dir == tmp_path.resolve() / "cache"


def test_absolute_and_home_paths(project, tmp_path):
    settings = settings_for(project, {"SANDBOX_MWAA_DATA_DIR": str(tmp_path / "abs"),
                                      "SANDBOX_CACHE_DIR": "~/somewhere"})
    assert settings.mwaa_data_dir == tmp_path / "abs"
    assert settings.cache_dir == Path.home() / "somewhere"


def test_spec_is_attached(spec_writer):
    settings = settings_for(spec_writer("Name: team-env\n"))
    assert settings.spec.name == "team-env"


def test_compose_settings_defaults_and_env(project):
    settings = settings_for(project)
    assert (settings.offline_images, settings.compose_subnet, settings.ulimit_nofile,
            settings.aws_emulator) == (False, "172.28.83.0/24", 20000, "moto")
    changed = settings_for(project, {"SANDBOX_OFFLINE_IMAGES": "yes", "SANDBOX_COMPOSE_SUBNET": "10.9.8.0/24",
                                     "SANDBOX_ULIMIT_NOFILE": "4096", "SANDBOX_AWS_EMULATOR": "localstack"})
    assert (changed.offline_images, changed.compose_subnet, changed.ulimit_nofile,
            changed.aws_emulator) == (True, "10.9.8.0/24", 4096, "localstack")


@pytest.mark.parametrize("name,value,words", [
    ("SANDBOX_COMPOSE_SUBNET", "10.9.8.0/30", "compose_subnet '10.9.8.0/30' is not an IPv4 network"),
    ("SANDBOX_COMPOSE_SUBNET", "not-a-net", "compose_subnet 'not-a-net'"),
    ("SANDBOX_AWS_EMULATOR", "minio", "aws_emulator 'minio' is not one of moto, localstack"),
    ("SANDBOX_ULIMIT_NOFILE", "100", "ulimit_nofile 100 is outside"),
])
def test_bad_compose_settings(project, name, value, words):
    error = config_error(project, {name: value})
    assert str(error).startswith(words)
    assert name in error.hint
