"""The front-end files come from node_modules, named one by one (core/staticfinders.py): every
file a template loads from vendor/ is found locally, and nothing else of the packages is
collected (ECharts' whole dist made every start take minutes)."""

import re
from pathlib import Path

import pytest
from django.contrib.staticfiles import finders

from qunli.core.staticfinders import VENDOR_FILES

pytestmark = pytest.mark.django_db  # the suite's autouse fixtures reset the login lock-out table
SRC = Path(__file__).resolve().parents[2]


def test_every_vendor_file_a_template_loads_is_found_locally():
    used = set()
    for template in SRC.rglob("*.html"):
        used |= set(re.findall(r"static '(vendor/[^']+)'", template.read_text(encoding="utf-8")))
    assert used and used <= set(VENDOR_FILES), used - set(VENDOR_FILES)
    for path in VENDOR_FILES:
        assert finders.find(path), path


def test_only_the_named_files_are_collected():
    listed = {f"{storage.prefix}/{name}" for finder in finders.get_finders()
              for name, storage in finder.list([]) if (getattr(storage, "prefix", "") or "").startswith("vendor")}
    assert listed == set(VENDOR_FILES)
