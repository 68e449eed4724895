"""The DAG folder, read as source (no Airflow here): each file defines the expected DAG, documented."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

DAGS = Path(__file__).resolve().parents[3] / "dags"

EXPECTED = {"log_producer.py": "log_producer", "log_consumer.py": "log_consumer", "sandbox_smoke.py": "sandbox_smoke"}


def dag_ids(tree: ast.Module) -> list[str]:
    """dag_id= keyword values of every @dag(...) / DAG(...) call in the module."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) in ("dag", "DAG"):
            found += [kw.value.value for kw in node.keywords if kw.arg == "dag_id" and isinstance(kw.value, ast.Constant)]
    return found


@pytest.mark.parametrize("filename, dag_id", sorted(EXPECTED.items()))
def test_dag_file_defines_exactly_its_dag_and_documents_the_outcome(filename, dag_id):
    tree = ast.parse((DAGS / filename).read_text(), filename=filename)
    assert dag_ids(tree) == [dag_id]
    docstring = ast.get_docstring(tree)
    assert docstring and docstring.startswith(f"{dag_id}:") and "Expected outcome" in docstring


def test_every_dag_file_defines_one_dag_named_after_the_file():
    for path in DAGS.glob("*.py"):
        assert dag_ids(ast.parse(path.read_text())) == [path.stem], path.name


def test_helper_package_is_ignored_by_the_dag_processor():
    assert "weblogs/" in (DAGS / ".airflowignore").read_text().split()


@pytest.mark.parametrize("module", ["records", "options"])
def test_pure_helpers_import_only_the_standard_library(module):
    tree = ast.parse((DAGS / "weblogs" / f"{module}.py").read_text())
    roots = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    roots |= {node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    assert roots - {"weblogs", "__future__"} <= set(sys.stdlib_module_names)


def test_heavy_clients_are_imported_inside_functions_only():
    for filename in ("log_producer.py", "log_consumer.py", "weblogs/connections.py"):
        tree = ast.parse((DAGS / filename).read_text())
        top = {alias.name.split(".")[0] for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))
               for alias in (node.names if isinstance(node, ast.Import) else [ast.alias(node.module or "")])}
        assert not top & {"confluent_kafka", "elasticsearch"}, filename
