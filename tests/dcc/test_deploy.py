"""Production settings, docker-compose.yml and the README's configuration table
agree with each other. No Docker engine runs here, so the compose file is
checked by reading it."""

import ast
import importlib
import json
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
# Read by Django or our images themselves rather than by dcc/settings.
NOT_SETTINGS = {"DJANGO_SETTINGS_MODULE"}


def settings_env_vars() -> set[str]:
    """Every variable name that dcc/settings/*.py reads through django-environ."""
    names = set()
    for path in (ROOT / "dcc" / "settings").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            func = node.func
            is_env = (isinstance(func, ast.Name) and func.id == "env") or (
                isinstance(func, ast.Attribute)
                and isinstance(func.value, ast.Name)
                and func.value.id == "env"
            )
            first = node.args[0]
            if is_env and isinstance(first, ast.Constant) and isinstance(first.value, str):
                names.add(first.value)
    return names


def test_settings_read_the_documented_variables():
    names = settings_env_vars()
    assert {
        "DATABASE_URL",
        "REDIS_URL",
        "CELERY_BROKER_URL",
        "SECRET_KEY",
        "DEBUG",
        "ALLOWED_HOSTS",
        "MEDIA_ROOT",
    } <= names
    readme = (ROOT / "README.md").read_text()
    table = set(re.findall(r"^\| `([A-Z_]+)` \|", readme, flags=re.MULTILINE))
    assert table == names, "README.md 'Configuration' must list exactly the variables settings read"


def test_check_deploy_is_clean_for_production_settings(tmp_path):
    env = {
        **{k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"},
        "DJANGO_SETTINGS_MODULE": "dcc.settings.production",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "dcc.example.com",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'deploy.sqlite3'}",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_to_start_without_secret_key(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "SECRET_KEY"}
    env.update(
        DJANGO_SETTINGS_MODULE="dcc.settings.production",
        ALLOWED_HOSTS="x",
        DATABASE_URL=f"sqlite:///{tmp_path / 'x.sqlite3'}",
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


@pytest.fixture(scope="module")
def compose():
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_has_the_whole_stack(compose):
    services = compose["services"]
    assert set(services) == {"postgres", "redis", "web", "worker", "beat"}
    for name, service in services.items():
        assert "healthcheck" in service, f"{name} has no healthcheck"
    assert {"pgdata", "media"} <= set(compose["volumes"])
    assert any("pgdata:" in v for v in services["postgres"]["volumes"])
    for name in ("web", "worker", "beat"):
        assert any(v.startswith("media:") for v in services[name]["volumes"])
        assert services[name]["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_compose_commands_point_at_real_modules(compose):
    services = compose["services"]
    web = services["web"]["command"]
    assert "gunicorn dcc.wsgi:application" in web
    assert "manage.py migrate" in web
    assert importlib.import_module("dcc.wsgi").application is not None
    assert services["worker"]["command"][:4] == ["celery", "-A", "dcc", "worker"]
    assert services["beat"]["command"][:4] == ["celery", "-A", "dcc", "beat"]
    assert importlib.import_module("dcc.celery").app.main == "dcc"
    health = services["beat"]["healthcheck"]["test"]
    assert "heartbeat_check" in health  # a management command that exists:
    assert (ROOT / "dcc" / "management" / "commands" / "heartbeat_check.py").exists()


def test_compose_serves_with_the_dockerfiles_gunicorn_options(compose):
    """One choice of workers and threads (README "Production"; the load test
    in tests/bench runs the Dockerfile's): compose's web command repeats it."""
    cmd = next(
        line for line in (ROOT / "Dockerfile").read_text().splitlines() if line.startswith("CMD ")
    )
    args = json.loads(cmd[4:])
    options = " ".join(args[args.index("--bind") + 2 :])
    assert "--worker-class gthread" in options
    assert options in compose["services"]["web"]["command"]


def test_compose_sets_only_variables_the_settings_read(compose):
    known = settings_env_vars() | NOT_SETTINGS
    for name in ("web", "worker", "beat"):
        environment = compose["services"][name]["environment"]
        assert set(environment) <= known, set(environment) - known
        assert environment["DJANGO_SETTINGS_MODULE"] == "dcc.settings.production"
        for required in ("SECRET_KEY", "ALLOWED_HOSTS", "DATABASE_URL", "REDIS_URL", "MEDIA_ROOT"):
            assert required in environment
        assert environment["DATABASE_URL"].startswith("postgres://")
        assert "@postgres:5432/" in environment["DATABASE_URL"]
        assert environment["REDIS_URL"].startswith("redis://redis:6379")
