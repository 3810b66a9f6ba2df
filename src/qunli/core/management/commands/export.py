"""``qunli export KIND [--unit ID] [--out FILE]``: an xlsx in the import template's columns
(so it can be edited and imported elsewhere). Sensitive fields are exported as their masks:
plaintext leaves only through the audited reveal action."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from qunli.core.exports import write_xlsx
from qunli.core.imports import IMPORTERS, get_importer


def _rows(kind: str, unit):
    from qunli.orgs.models import Position, Unit
    from qunli.people.models import Membership, Person, TeamMember, VolunteerProfile

    def within(qs, lookup):
        return qs.filter(**{f"{lookup}path__startswith": unit.path}) if unit else qs

    if kind == "units":
        qs = within(Unit.objects.all(), "").select_related("line")
        parents = dict(Unit.objects.values_list("path", "name"))
        for u in qs.iterator(chunk_size=2000):
            yield [u.name, parents.get(u.path[:-Unit.steplen], ""), u.get_level_display(), u.line.name if u.line else "",
                   u.get_kind_display(), u.division_code, u.uscc, u.address, u.established_on]
    elif kind == "persons":
        for p in within(Person.objects.filter(merged_into__isnull=True), "unit__").select_related("unit") \
                .iterator(chunk_size=2000):
            yield [p.name, p.id_number_mask, p.unit.name, p.phone_mask, p.ethnicity, p.get_political_status_display(),
                   p.education, p.workplace, p.address_mask]
    elif kind == "memberships":
        for m in within(Membership.objects.all(), "unit__").select_related("person", "unit").iterator(chunk_size=2000):
            yield [m.person.name, m.person.id_number_mask, m.unit.name, m.number, m.joined_on, m.person.phone_mask]
    elif kind == "volunteers":
        for v in within(VolunteerProfile.objects.all(), "unit__").select_related("person", "unit") \
                .iterator(chunk_size=2000):
            yield [v.person.name, v.person.id_number_mask, v.unit.name, v.get_category_display(), v.skills,
                   v.certificate_no, v.certificate_date, v.person.phone_mask]
    elif kind == "positions":
        for p in within(Position.objects.filter(ended_on__isnull=True), "unit__").select_related("person", "unit") \
                .iterator(chunk_size=2000):
            yield [p.unit.name, p.person.name, p.person.id_number_mask, p.get_title_display(), p.title_label,
                   p.started_on, p.term_ends_on, "是" if p.is_parttime else "否"]
    elif kind == "team_members":
        for m in within(TeamMember.objects.all(), "team__unit__").select_related("person", "team") \
                .iterator(chunk_size=2000):
            yield [m.team.name, m.person.name, m.person.id_number_mask, m.role, m.joined_on, m.person.phone_mask]


class Command(BaseCommand):
    help = "按导入模板的列导出 xlsx（敏感字段为脱敏值）"

    def add_arguments(self, parser):
        parser.add_argument("kind", choices=sorted(IMPORTERS))
        parser.add_argument("--unit", type=int, help="只导出该单位及其下级")
        parser.add_argument("--out", help="输出文件（默认 KIND-时间.xlsx）")

    def handle(self, kind, unit=None, out=None, **options):
        from rich.progress import Progress, SpinnerColumn, TextColumn

        from qunli.orgs.models import Unit

        root = None
        if unit is not None:
            root = Unit.objects.filter(pk=unit).first()
            if root is None:
                raise CommandError(f"单位 {unit} 不存在")
        importer = get_importer(kind)
        path = Path(out or f"{kind}-{timezone.localtime():%Y%m%d%H%M}.xlsx")
        with Progress(SpinnerColumn(), TextColumn("{task.description}")) as bar:
            task = bar.add_task(f"导出{importer.label}…")
            counter = {"n": 0}

            def counted():
                for row in _rows(kind, root):
                    counter["n"] += 1
                    if counter["n"] % 5000 == 0:
                        bar.update(task, description=f"导出{importer.label}… {counter['n']} 行")
                    yield row

            with open(path, "wb") as fh:
                n = write_xlsx(fh, [c.header for c in importer.columns], counted(), sheet_name=importer.label)
        self.stdout.write(self.style.SUCCESS(f"已导出{n}行到 {path}"))
