"""The admin user's command line survives any generated password."""

from __future__ import annotations

import argparse

import pytest

from sandbox.services import airflow


def airflow_like_parser() -> argparse.ArgumentParser:
    """`airflow users create`'s options as Airflow's argparse CLI declares them."""
    parser = argparse.ArgumentParser(exit_on_error=False)
    for short, long in (("-r", "--role"), ("-u", "--username"), ("-p", "--password"), ("-e", "--email"),
                        ("-f", "--firstname"), ("-l", "--lastname")):
        parser.add_argument(short, long)
    return parser


@pytest.mark.parametrize("password", ["-leading-dash", "--x", "plain_Pass-1"])
def test_a_generated_password_starting_with_a_dash_reaches_users_create(password):
    args = airflow.users_create_args(password)[2:]  # after "users create"
    assert airflow_like_parser().parse_args(args).password == password


def test_a_separate_password_argument_would_fail_on_a_leading_dash():
    """Why the value is attached: the CI failure `argument -p/--password: expected one argument`."""
    with pytest.raises((argparse.ArgumentError, SystemExit)):
        airflow_like_parser().parse_args(["--password", "-leading-dash"])
