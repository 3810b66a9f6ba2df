"""A large commit hands clean chunks from the validating workers to the writer as blocks of
columns (imports._run: take_block); anything unclean goes row by row. Same outcome either way."""

import pytest

from qunli.core import crypto, imports
from qunli.core.imports import run_import
from qunli.core.tests.test_imports import idn, write
from qunli.people.models import Person


@pytest.fixture
def parallel(monkeypatch, settings):
    monkeypatch.setattr(imports, "PARALLEL_MIN_ROWS", 4)
    monkeypatch.setattr(imports, "CHUNK_ROWS", 3)
    settings.QUNLI_IMPORT_WORKERS = 2
    taken = []
    real = imports.PersonImporter.write_block

    def spy(self, params, ctx):
        taken.append(len(params))
        return real(self, params, ctx)

    monkeypatch.setattr(imports.PersonImporter, "write_block", spy)
    return taken


def roster(ids, quoted=False) -> str:
    q = '"' if quoted else ""
    return "姓名,身份证号,所属单位,联系电话,住址\n" + "".join(
        f"人{i},{v},东风村妇联,1370000{i:04d},{q}住址{i}{q}\n" for i, v in enumerate(ids, start=1))


def test_clean_chunks_are_written_as_blocks_with_every_field(tmp_path, accounts, tree, parallel):
    out = run_import("persons", write(tmp_path, "a.csv", roster([idn(i) for i in range(1, 31)])),
                     user=accounts["women_staff"], commit=True)
    assert out.ok and out.created_rows == 30 and Person.objects.count() == 30
    assert sum(parallel) == 30 and len(parallel) > 1  # all of it came as blocks
    p = Person.objects.get(name="人17")
    assert (p.reveal("id_number"), p.reveal("phone"), p.reveal("address")) == (idn(17), "13700000017", "住址17")
    assert p.id_number_hash == crypto.blind_index(idn(17)) and p.birth_date is not None


def test_a_duplicate_after_written_blocks_rolls_everything_back_with_its_row_numbers(tmp_path, accounts, tree,
                                                                                   parallel):
    ids = [idn(i) for i in range(1, 31)]
    ids[25] = ids[4]  # row 27 repeats row 6, after several blocks were written
    out = run_import("persons", write(tmp_path, "b.csv", roster(ids)), user=accounts["women_staff"], commit=True)
    assert not out.committed and Person.objects.count() == 0
    assert [(e["row"], e["reason"]) for e in out.errors] == [(27, "与第6行重复（身份证号相同）")]
    assert out.errors[0]["values"][:2] == ["人26", ids[4]]  # original cells, re-read from the file
    assert sum(parallel) > 0


def test_a_row_already_registered_stops_the_blocks_and_is_named(tmp_path, accounts, tree, parallel):
    Person.objects.create(name="旧", unit=tree["village_women"], id_number_hash=crypto.blind_index(idn(20)))
    out = run_import("persons", write(tmp_path, "c.csv", roster([idn(i) for i in range(1, 31)])),
                     user=accounts["women_staff"], commit=True)
    assert not out.committed and Person.objects.count() == 1
    assert [(e["row"], e["reason"][:8]) for e in out.errors] == [(21, "该身份证号已登记")]


def test_row_chunks_read_by_the_main_process_use_blocks_too(tmp_path, accounts, tree, parallel):
    """A quoted CSV (or a workbook) is read by the main process and handed out as row chunks:
    clean chunks come back as blocks, and a later duplicate still shows its original cells."""
    ids = [idn(i) for i in range(1, 31)]
    out = run_import("persons", write(tmp_path, "q.csv", roster(ids, quoted=True)), user=accounts["women_staff"],
                     commit=True)
    assert out.ok and Person.objects.count() == 30 and sum(parallel) == 30
    assert Person.objects.get(name="人9").reveal("address") == "住址9"
    Person.objects.all().delete()
    parallel.clear()
    ids[28] = ids[2]
    out = run_import("persons", write(tmp_path, "q2.csv", roster(ids, quoted=True)), user=accounts["women_staff"],
                     commit=True)
    assert not out.committed and Person.objects.count() == 0
    assert [(e["row"], e["values"][:2]) for e in out.errors] == [(30, ["人29", ids[2]])]


def test_a_block_longer_than_one_insert_statement_keeps_file_order_and_every_field(tmp_path, accounts, tree,
                                                                                  parallel, monkeypatch):
    """A block goes in many rows per INSERT statement (imports.insert_person_params) and its
    rest one row at a time: the ids follow the file and each row keeps its own values."""
    from qunli.core.pinyin import sort_key

    monkeypatch.setattr(imports, "CHUNK_ROWS", 60)
    # 50 rows a statement on any database (SQLite's parameter limit gives 52, PostgreSQL's 100):
    # blocks of about 60 rows then take one multi-row statement and a remainder
    monkeypatch.setattr(imports, "_rows_per_insert", lambda: 50)
    n = 130
    out = run_import("persons", write(tmp_path, "d.csv", roster([idn(i) for i in range(1, n + 1)])),
                     user=accounts["women_staff"], commit=True)
    assert out.ok and Person.objects.count() == n and sum(parallel) == n
    assert max(parallel) > imports._rows_per_insert()
    people = list(Person.objects.order_by("id"))
    assert [p.name for p in people] == [f"人{i}" for i in range(1, n + 1)]
    for i in (1, 50, 51, 60, 61, 113, 130):
        p = people[i - 1]
        assert (p.reveal("id_number"), p.reveal("phone"), p.reveal("address")) == (idn(i), f"1370000{i:04d}", f"住址{i}")
        assert p.id_number_hash == crypto.blind_index(idn(i)) and p.phone_hash == crypto.blind_index(f"1370000{i:04d}")
        assert p.name_sort == sort_key(p.name) and p.created_at == p.updated_at and p.ethnicity == "汉族"
