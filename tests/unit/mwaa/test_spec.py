"""mwaa.yaml parsing: defaults, the repository's own spec, and one error per kind of mistake."""

from __future__ import annotations

import re
import textwrap

import pytest

from sandbox.errors import ConfigError, SpecError
from sandbox.mwaa.classes import ENVIRONMENT_CLASSES
from sandbox.mwaa.spec import LOG_TYPES, EnvironmentSpec, LogSetting, load_spec, parse_spec


def spec_error(raw: dict) -> str:
    with pytest.raises(SpecError) as info:
        parse_spec(raw)
    return str(info.value)


def test_no_file_gives_defaults(project):
    spec = load_spec(project)
    assert spec == EnvironmentSpec()
    assert spec.source == "defaults"
    assert spec.airflow_version == "2.9.2"
    assert spec.environment_class == "mw1.small"
    assert spec.bucket_name == "mwaa-sandbox-bucket"
    assert set(spec.logging) == set(LOG_TYPES)


def test_repository_spec(repo_dir):
    spec = load_spec(repo_dir)
    assert spec.source == str(repo_dir / "mwaa.yaml")
    assert spec.name == "dsai-dev-mwaa"
    assert spec.airflow_version == "2.9.2"
    assert spec.environment_class == "mw1.small"
    assert spec.env_class is ENVIRONMENT_CLASSES["mw1.small"]
    assert spec.schedulers == 2
    assert (spec.min_workers, spec.max_workers) == (2, 2)
    assert (spec.min_webservers, spec.max_webservers) == (2, 2)
    assert spec.webserver_access_mode == "PRIVATE_ONLY"
    assert spec.bucket_name == "dsai-airflow-dags"
    assert spec.dag_s3_path == "dags"
    assert spec.requirements_s3_path == "requirements.txt"
    assert spec.logging == {t: LogSetting(True, "INFO") for t in LOG_TYPES}


def test_unsupported_airflow_version_names_key_and_supported_version(spec_writer):
    project = spec_writer('AirflowVersion: "2.10.1"\n')
    with pytest.raises(SpecError) as info:
        load_spec(project)
    message = str(info.value)
    assert message.startswith("mwaa.yaml: AirflowVersion: '2.10.1'")
    assert "2.9.2" in message
    assert isinstance(info.value, ConfigError) and info.value.exit_code == 2


def test_unknown_environment_class_lists_the_classes():
    message = spec_error({"EnvironmentClass": "mw1.tiny"})
    expected = "mwaa.yaml: EnvironmentClass: 'mw1.tiny' is not one of " + ", ".join(ENVIRONMENT_CLASSES)
    assert message == expected
    assert message.startswith("mwaa.yaml: EnvironmentClass: 'mw1.tiny' is not one of mw1.micro, mw1.small, ")


def test_malformed_yaml_reports_line(spec_writer):
    project = spec_writer(textwrap.dedent("""\
        Name: ok
        Schedulers: 2
          MaxWorkers: 3
        """))
    with pytest.raises(SpecError) as info:
        load_spec(project)
    message = str(info.value)
    assert message.startswith("mwaa.yaml: not valid YAML at line 3, column ")
    assert "mapping values are not allowed here" in message
    assert info.value.hint and "nothing was started" in info.value.hint


def test_unclosed_sequence_reports_a_line(spec_writer):
    project = spec_writer("Name: ok\nSchedulers: [2\nMaxWorkers: 3\n")
    with pytest.raises(SpecError) as info:
        load_spec(project)
    line = int(re.search(r"at line (\d+)", str(info.value)).group(1))
    assert line in (2, 3)  # the flow sequence opened on line 2 breaks on line 3


def test_top_level_must_be_mapping(spec_writer):
    with pytest.raises(SpecError, match="top level must be a mapping"):
        load_spec(spec_writer("- just\n- a list\n"))


def test_empty_file_gives_defaults_with_source(spec_writer):
    project = spec_writer("# nothing yet\n")
    spec = load_spec(project)
    assert spec.name == EnvironmentSpec().name
    assert spec.source == str(project / "mwaa.yaml")


@pytest.mark.parametrize("value", [0, 6])
def test_schedulers_out_of_range(value):
    message = spec_error({"Schedulers": value})
    assert message == f"mwaa.yaml: Schedulers: {value} is out of range (allowed: 1 to 5)"


def test_schedulers_must_be_whole_number():
    assert spec_error({"Schedulers": "two"}) == "mwaa.yaml: Schedulers: 'two' is not a whole number"
    assert "is not a whole number" in spec_error({"MaxWorkers": True})


def test_min_workers_greater_than_max():
    message = spec_error({"MinWorkers": 4, "MaxWorkers": 3})
    assert message == "mwaa.yaml: MinWorkers: 4 is greater than MaxWorkers (3)"


def test_min_webservers_greater_than_max():
    message = spec_error({"MinWebservers": 3, "MaxWebservers": 2})
    assert message.startswith("mwaa.yaml: MinWebservers: 3 is greater than MaxWebservers (2)")


def test_unknown_top_level_key():
    message = spec_error({"Name": "ok", "MaxWorker": 3})
    assert message.startswith("mwaa.yaml: MaxWorker: is not a known key")


def test_extra_sandbox_keys_are_allowed():
    spec = parse_spec({"Sandbox": {"airflow_port": 8081}, "Secrets": {}, "Tags": {"team": "x"}})
    assert spec.sandbox == {"airflow_port": 8081}


def test_sandbox_section_must_be_mapping():
    assert spec_error({"Sandbox": [1, 2]}) == "mwaa.yaml: Sandbox: must be a mapping, got list"


@pytest.mark.parametrize("raw, path, problem", [
    ({"DagProcessingLogs": "yes"}, "LoggingConfiguration.DagProcessingLogs", "must be a mapping"),
    ({"TaskLogs": {"LogLevel": "VERBOSE"}}, "LoggingConfiguration.TaskLogs.LogLevel",
     "'VERBOSE' is not one of CRITICAL, ERROR, WARNING, INFO, DEBUG"),
    ({"TaskLogs": {"Enabled": "yes"}}, "LoggingConfiguration.TaskLogs.Enabled", "'yes' is not true or false"),
    ({"AuditLogs": {"Enabled": True}}, "LoggingConfiguration.AuditLogs", "is not one of DagProcessingLogs"),
    ({"TaskLogs": {"Level": "INFO"}}, "LoggingConfiguration.TaskLogs.Level", "is not a known key"),
])
def test_bad_logging_configuration(raw, path, problem):
    message = spec_error({"LoggingConfiguration": raw})
    assert message.startswith(f"mwaa.yaml: {path}: ")
    assert problem in message


def test_logging_partial_override_keeps_other_defaults():
    spec = parse_spec({"LoggingConfiguration": {"TaskLogs": {"Enabled": False, "LogLevel": "DEBUG"}}})
    assert spec.logging["TaskLogs"] == LogSetting(False, "DEBUG")
    assert spec.logging["WorkerLogs"] == LogSetting(True, "INFO")


@pytest.mark.parametrize("key", ["load_examples", "Core.load_examples", "core.load-examples", "core."])
def test_bad_airflow_configuration_option_key(key):
    message = spec_error({"AirflowConfigurationOptions": {key: "x"}})
    assert message.startswith(f"mwaa.yaml: AirflowConfigurationOptions.{key}: ")
    assert "section.option" in message


def test_airflow_configuration_option_value_must_be_scalar():
    message = spec_error({"AirflowConfigurationOptions": {"core.parallelism": [1, 2]}})
    assert message == "mwaa.yaml: AirflowConfigurationOptions.core.parallelism: the value must be a string"


def test_airflow_configuration_values_become_strings():
    spec = parse_spec({"AirflowConfigurationOptions": {"core.parallelism": 7, "core.load_examples": True}})
    assert spec.airflow_configuration_options == {"core.parallelism": "7", "core.load_examples": "true"}


def test_micro_rejects_two_schedulers():
    message = spec_error({"EnvironmentClass": "mw1.micro", "Schedulers": 2})
    assert message == "mwaa.yaml: Schedulers: 2 is not allowed for mw1.micro (allowed: 1 to 1)"


def test_micro_accepts_one_scheduler():
    spec = parse_spec({"EnvironmentClass": "mw1.micro", "Schedulers": 1})
    assert spec.env_class.tasks_per_worker == 3


def test_small_rejects_one_scheduler():
    assert "is not allowed for mw1.small (allowed: 2 to 5)" in spec_error({"Schedulers": 1})


@pytest.mark.parametrize("raw, key", [
    ({"Name": "1starts-with-digit"}, "Name"),
    ({"SourceBucketArn": "s3://my-bucket"}, "SourceBucketArn"),
    ({"DagS3Path": "s3://bucket/dags"}, "DagS3Path"),
    ({"DagS3Path": "/dags"}, "DagS3Path"),
    ({"WebserverAccessMode": "PUBLIC"}, "WebserverAccessMode"),
])
def test_invalid_strings_name_their_key(raw, key):
    assert spec_error(raw).startswith(f"mwaa.yaml: {key}: ")


def test_bucket_name_from_arn():
    assert parse_spec({"SourceBucketArn": "arn:aws:s3:::my.bucket-1"}).bucket_name == "my.bucket-1"


def test_mw1_micro_has_one_web_server_by_default_and_allows_no_more():
    spec = parse_spec({"EnvironmentClass": "mw1.micro"})
    assert (spec.schedulers, spec.min_webservers, spec.max_webservers) == (1, 1, 1)
    message = spec_error({"EnvironmentClass": "mw1.micro", "MaxWebservers": 2})
    assert message == "mwaa.yaml: MaxWebservers: 2 is not allowed for mw1.micro (allowed: 1)"


def test_larger_classes_need_two_to_five_web_servers():
    message = spec_error({"EnvironmentClass": "mw1.small", "MinWebservers": 1})
    assert message == "mwaa.yaml: MinWebservers: 1 is not allowed for mw1.small (allowed: 2 to 5)"
