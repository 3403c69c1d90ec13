"""The zh-hans catalogue is complete and its compiled .mo (committed, so that
`make run` needs no gettext) matches the .po."""

import gettext
import re
import shutil
import subprocess
from pathlib import Path

import pytest

LOCALE = Path(__file__).resolve().parents[2] / "locale" / "zh_Hans" / "LC_MESSAGES"


def _po_msgids() -> set[str]:
    text = (LOCALE / "django.po").read_text(encoding="utf-8")
    return {m for m in re.findall(r'^msgid "((?:[^"\\]|\\.)*)"$', text, flags=re.M) if m}


def test_every_string_is_translated():
    with (LOCALE / "django.mo").open("rb") as fh:
        catalog = gettext.GNUTranslations(fh)._catalog
    # Plural entries are keyed (msgid, index) in a compiled catalogue, and
    # an entry with a context as "context\x04msgid".
    keys = {key[0] if isinstance(key, tuple) else key for key in catalog}
    translated = {key.rpartition("\x04")[2] for key in keys}
    untranslated = _po_msgids() - translated
    assert not untranslated


@pytest.mark.skipif(shutil.which("msgfmt") is None, reason="gettext is not installed")
def test_compiled_catalogue_is_current(tmp_path):
    fresh = tmp_path / "django.mo"
    subprocess.run(["msgfmt", "--check", "-o", str(fresh), str(LOCALE / "django.po")], check=True)
    with fresh.open("rb") as a, (LOCALE / "django.mo").open("rb") as b:
        assert gettext.GNUTranslations(a)._catalog == gettext.GNUTranslations(b)._catalog, (
            "run `make messages` and commit locale/"
        )


def test_every_admin_field_has_a_translatable_name():
    """Issue 13 point 9: the admin shows no field by its raw attribute name
    ("acknowledged at", "provider id"): each has a verbose name in the
    catalogue, translated."""
    from django.contrib import admin
    from django.utils import translation
    from django.utils.functional import Promise

    missing = []
    for model in admin.site._registry:
        if model._meta.app_label not in (
            "dcc",
            "leads",
            "followups",
            "campaigns",
            "telephony",
            "kpi",
        ):
            continue
        for field in model._meta.get_fields():
            if field.auto_created or not field.concrete:
                continue
            if not isinstance(field.verbose_name, Promise):
                missing.append(f"{model._meta.label}.{field.name}")
                continue
            with translation.override("zh-hans"):
                shown = str(field.verbose_name)
            if (
                field.name != "id"
                and shown.isascii()
                and not shown.upper().startswith(("SHA", "PBX", "ID"))
            ):
                missing.append(f"{model._meta.label}.{field.name}: {shown}")
    assert not missing
