"""The seams between apps, kept by tests (README "Layout").

import-linter keeps the layers (``make lint`` runs ``lint-imports`` with the
contracts in pyproject.toml); this test keeps the other half of the rule: no
module uses another app's ``_private`` name, whether imported by name
(``from leads.views import _helper``) or reached through a module
(``lead_services._locked(…)``). Lazy imports inside functions count too.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
APPS = ("dcc", "leads", "followups", "telephony", "kpi", "desk")


def _modules():
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            if "migrations" not in path.parts:
                yield app, path


def _app_of(module: str | None) -> str | None:
    top = (module or "").split(".")[0]
    return top if top in APPS else None


def _is_module(dotted: str) -> bool:
    path = ROOT.joinpath(*dotted.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def private_uses(app: str, source: str) -> list[str]:
    """``module:line name`` of every other app's private name used in ``source``."""
    found = []
    tree = ast.parse(source)
    # Names bound to another app's module: ``from leads import services as s``,
    # ``import leads.services as s``.
    foreign_modules = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0:
            other = _app_of(node.module)
            if other is None or other == app:
                continue
            for alias in node.names:
                if alias.name.startswith("_") and not alias.name.startswith("__"):
                    found.append(f"{node.lineno} {node.module}.{alias.name}")
                if _is_module(f"{node.module}.{alias.name}"):
                    foreign_modules[alias.asname or alias.name] = f"{node.module}.{alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                other = _app_of(alias.name)
                if other is not None and other != app and alias.asname:
                    foreign_modules[alias.asname] = alias.name
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in foreign_modules
            and node.attr.startswith("_")
            and not node.attr.startswith("__")
        ):
            found.append(f"{node.lineno} {foreign_modules[node.value.id]}.{node.attr}")
    return found


def test_no_module_uses_another_apps_private_names():
    offences = []
    for app, path in _modules():
        for use in private_uses(app, path.read_text(encoding="utf-8")):
            offences.append(f"{path.relative_to(ROOT)}:{use}")
    assert offences == []


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("from leads.views import _without_blanks\n", ["1 leads.views._without_blanks"]),
        (
            "from leads import services as lead_services\nlead_services._locked(x)\n",
            ["2 leads.services._locked"],
        ),
        ("def f():\n    from leads.filters import _scoped\n", ["2 leads.filters._scoped"]),
        ("from telephony.services import _Matcher\n", []),  # its own app
        ("from leads.models import Lead\nLead._meta\n", []),  # not a module's private name
    ],
)
def test_the_check_sees_every_form_of_use(source, expected):
    assert private_uses("telephony", source) == expected
