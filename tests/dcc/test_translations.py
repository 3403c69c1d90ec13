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
