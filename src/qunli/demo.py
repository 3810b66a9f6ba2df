"""Demo data: a seeded, reproducible, realistic organization tree with its people.

``generate(scale="county", seed=2026)`` builds, for each county, the party committee's
群团 office and every line (工会, 共青团, 妇联, 科协, 关工委, 残联, 工商联, 侨联, 档案), ~15
乡镇/街道 with ~250 村/社区 and their 小组, county organs (机关), schools, enterprises (with
valid unified social credit codes) and an industrial park (园区), then ~50,000 persons with
valid resident ID numbers (encrypted through ``Person.set_sensitive``, the one
implementation), memberships per line, ~2,000 五老 volunteers with 聘书, trainings and
recognitions, teams (宣讲团, 关爱指导团, 通讯员 …), leadership teams (some seats vacant, some
terms expired), base conditions (四缺) and venues inspected against the seeded checklists
(七有, 五有一能).

Scales: ``county`` (1 county, ~3,000 units, ~50,000 persons), ``city`` (5 counties, ~15,000
units, ~500,000 persons), ``province`` (33 counties in 14 cities, ~100,000 units, ~5,000,000
persons; meant for benchmarks).

Speed: tree paths are computed here (treebeard MP_Node: ``path`` is the concatenation of
4-character base-36 steps, ``depth`` and ``numchild`` kept consistent) and rows are written
with ``bulk_create`` under explicit primary keys — no per-row tree operations. The county
scale runs in one transaction; larger scales commit once per county.

Policy on an existing database: ``generate`` refuses when any unit exists, unless
``force=True``, which first deletes the demo-generated tables (units, persons, the work of
casework, portal and records, and everything hanging from them; the demo accounts stay,
because the append-only audit trail names them, and get fresh grants). The first county's
day-to-day work (cases, pairings, wishes, projects, notices, fonds and filed items) is then
run through the real actions by ``demo_work.populate``. Demo accounts are created with
``must_change_password=False`` and a published password — for demonstration only, never for
production.

Benchmarks reuse the generator through ``cached_database(scale)``: the database is built
once per scale and seed into ``bench.common.cache_dir("demo")`` and reused afterwards.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import subprocess
import sys
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path

from django.contrib.auth.hashers import make_password
from django.db import connection, transaction
from django.utils import timezone

from qunli.core.identifiers import make_id_number, make_uscc
from qunli.core.pinyin import phrase_key, sort_key

GENERATOR_VERSION = 2
DEFAULT_SEED = 2026
# Every generated date is relative to this fixed day so that a seed always yields the same data.
REF_DATE = dt.date(2026, 11, 1)
DEMO_PASSWORD = "Qunli@2026demo"

# (username, display name, kind, role, where, lines) — "where" is county/township/village.
DEMO_ACCOUNTS = [
    ("admin", "系统管理员", "sysadmin", None, None, None),
    ("security", "安全管理员", "secadmin", None, None, None),
    ("auditor", "安全审计员", "auditor", None, None, None),
    ("qunban", "县委群团办", "business", "staff", "county", "all"),
    ("gonghui", "县总工会", "business", "staff", "county", ["union"]),
    ("fulian", "县妇联", "business", "staff", "county", ["women"]),
    ("lingdao", "县委分管领导", "business", "leader", "county", "all"),
    ("xiangzhen", "乡镇群团干事", "business", "staff", "township", "all"),  # its township's organizations, all lines
    ("cunwei", "村（社区）填报员", "business", "clerk", "village", "all"),
    ("shegong", "县妇联社工（个案、结对、微心愿）", "business", "staff", "county", ["women", "ggw", "union"]),
    ("dangan", "县档案馆（接收移交、利用、开放鉴定）", "business", "staff", "county", ["archives"]),
    ("guanzhang", "县档案馆馆长（审批利用、销毁清册）", "business", "leader", "county", ["archives"]),
]


@dataclass(frozen=True)
class Scale:
    name: str
    cities: int
    counties_per_city: int
    persons_per_county: int
    townships: int = 15
    villages_per_township: int = 17
    volunteers_per_county: int = 2000

    @property
    def counties(self) -> int:
        return self.cities * self.counties_per_city


SCALES = {
    "county": Scale("county", 1, 1, 50_000),
    "city": Scale("city", 1, 5, 100_000),
    "province": Scale("province", 14, 0, 152_000),  # counties spread over 14 cities, see _city_plan
}
PROVINCE_COUNTIES = 33

# --------------------------------------------------------------------------- vocabulary

SURNAMES = ("王李张刘陈杨黄赵吴周徐孙马朱胡郭何林高罗郑梁谢宋唐许韩冯邓曹彭曾肖田董潘袁蔡蒋余于杜叶程魏苏吕丁任卢"
            "姚沈钟姜崔谭陆范汪廖石金韦贾夏付方邹熊白孟秦邱侯江尹薛闫段雷龙黎史陶贺毛郝顾龚邵万覃武钱戴严莫孔向常汤")
MALE_CHARS = "伟强磊军勇杰涛斌超明刚平辉鹏华飞鑫波宇浩凯健俊帆建国志军文博海峰东林庆生福贵荣德成永忠兴旺祥"
FEMALE_CHARS = "芳娜敏静丽艳娟霞秀英华玲桂兰萍红梅琳雪莉燕婷倩慧琴云莲凤春玉珍翠洁丹晶璐颖佳欣悦雅"
PLACE_A = "城关新兴太平永安金山白沙清泉石桥柳林东关西川南河北山红旗长乐安远龙泉杨家马坪高峰三合五里黄土河口官庄陈家桃园青龙凤凰"
PLACE_SUFFIX_TOWN = ["镇", "镇", "镇", "乡", "乡"]
VILLAGE_WORDS = "上下前后东西南北大小新老中高岭坪沟湾塬坡川河桥寨堡庄店铺坝岔梁峪园林泉水湖山岗口台滩"
ENTERPRISE_WORDS = ["宏达", "鑫源", "恒通", "华信", "金穗", "绿源", "天成", "瑞丰", "陇原", "富民", "兴农", "永盛",
                    "众诚", "嘉禾", "顺达", "康宁", "丰泽", "锦程", "汇通", "润泽", "德隆", "万家", "福源", "光明"]
INDUSTRIES = ["果业有限公司", "农业科技有限公司", "建材有限公司", "商贸有限公司", "食品有限公司", "物流有限公司",
              "中药材有限公司", "劳务服务有限公司", "家政服务有限公司", "电子商务有限公司", "建筑工程有限公司",
              "养殖专业合作社", "机械制造有限公司", "新能源有限公司", "纺织有限公司"]
ORGANS = ["县委办公室", "县人民政府办公室", "县委组织部", "县委宣传部", "县委统战部", "县发展和改革局", "县教育局",
          "县公安局", "县民政局", "县司法局", "县财政局", "县人力资源和社会保障局", "县自然资源局", "县生态环境局",
          "县住房和城乡建设局", "县交通运输局", "县水务局", "县农业农村局", "县商务局", "县文化和旅游局",
          "县卫生健康局", "县退役军人事务局", "县应急管理局", "县审计局", "县市场监督管理局", "县统计局",
          "县医疗保障局", "县林业和草原局", "县人民法院", "县人民检察院", "县融媒体中心"]
CITY_NAMES = [("兰州市", "6201"), ("嘉峪关市", "6202"), ("金昌市", "6203"), ("白银市", "6204"), ("天水市", "6205"),
              ("武威市", "6206"), ("张掖市", "6207"), ("平凉市", "6208"), ("酒泉市", "6209"), ("庆阳市", "6210"),
              ("定西市", "6211"), ("陇南市", "6212"), ("临夏回族自治州", "6229"), ("甘南藏族自治州", "6230")]
COUNTY_NAMES = ["秦安县", "甘谷县", "武山县", "清水县", "麦积区", "秦州区", "通渭县", "陇西县", "渭源县", "临洮县",
                "漳县", "岷县", "会宁县", "靖远县", "景泰县", "民勤县", "古浪县", "天祝藏族自治县", "山丹县", "民乐县",
                "临泽县", "高台县", "泾川县", "灵台县", "崇信县", "庄浪县", "静宁县", "环县", "华池县", "合水县",
                "正宁县", "宁县", "镇原县", "成县", "文县", "宕昌县", "康县", "西和县", "礼县", "徽县", "两当县"]
EDUCATION = ["小学", "初中", "初中", "高中", "高中", "中专", "大专", "大专", "本科", "本科", "硕士研究生"]
VOLUNTEER_CATEGORIES = [("official", 30), ("teacher", 28), ("soldier", 8), ("expert", 10), ("model", 8),
                        ("police", 6), ("doctor", 7), ("other", 3)]
VOLUNTEER_SKILLS = {"official": "政策宣讲", "teacher": "课业辅导、家庭教育指导", "soldier": "革命传统教育",
                    "expert": "科技服务、农业技术", "model": "劳模精神宣讲", "police": "法治教育、帮教",
                    "doctor": "健康科普、心理疏导", "other": "文体活动"}
TRAININGS = ["五老志愿者业务培训", "家庭教育指导能力提升培训", "关爱留守儿童工作培训", "法治宣讲员培训",
             "心理健康知识培训", "网上关工委操作培训", "“五老”宣讲团集中备课"]

LINE_UNIT_NAMES = {
    "party": "{r}委群团工作办公室", "union": "{r}总工会", "league": "共青团{r}委员会", "women": "{r}妇女联合会",
    "science": "{r}科学技术协会", "ggw": "{r}关心下一代工作委员会", "disabled": "{r}残疾人联合会",
    "commerce": "{r}工商业联合会", "overseas": "{r}归国华侨联合会", "archives": "{r}档案馆",
}
TOWNSHIP_LINES = {"union": "{r}总工会", "league": "共青团{r}委员会", "women": "{r}妇女联合会",
                  "science": "{r}科协", "ggw": "{r}关工委", "archives": "{r}档案室"}


# --------------------------------------------------------------------------- tree building

_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def path_step(n: int) -> str:
    """The treebeard step for the n-th child (1-based), 4 base-36 characters."""
    out = ""
    for _ in range(4):
        n, r = divmod(n, 36)
        out = _ALPHABET[r] + out
    return out


@dataclass
class Node:
    pk: int
    path: str
    depth: int
    fields: dict
    children: int = 0
    lines: dict = field(default_factory=dict)  # line code -> line unit Node (for region/employer nodes)


class Gen:
    """One generation run: the RNG, the id counters and the buffered rows."""

    def __init__(self, seed: int, scale: Scale, progress=None):
        from qunli.orgs.models import Checklist, Line

        self.rng = random.Random(seed)
        self.scale = scale
        self.progress = progress
        self.lines = {line.code: line for line in Line.objects.all()}
        self.checklists = list(Checklist.objects.prefetch_related("items"))
        self.next_id = {}
        self.used_ids = set()

    # ids ------------------------------------------------------------------
    def new_id(self, model) -> int:
        key = model._meta.label
        if key not in self.next_id:
            from django.db.models import Max

            self.next_id[key] = (model.objects.aggregate(m=Max("pk"))["m"] or 0) + 1
        n = self.next_id[key]
        self.next_id[key] = n + 1
        return n

    # vocabulary -------------------------------------------------------------
    def person_name(self, gender: str) -> str:
        r = self.rng
        chars = MALE_CHARS if gender == "M" else FEMALE_CHARS
        given = r.choice(chars) + (r.choice(chars) if r.random() < 0.72 else "")
        return r.choice(SURNAMES[:40] if r.random() < 0.7 else SURNAMES) + given

    def phone(self) -> str:
        r = self.rng
        return r.choice(["13", "15", "17", "18", "19"]) + str(r.randint(0, 9)) + f"{r.randint(0, 99_999_999):08d}"

    def date_between(self, start: dt.date, end: dt.date) -> dt.date:
        return start + dt.timedelta(days=self.rng.randint(0, max(0, (end - start).days)))


class TreeBuilder:
    """Collects Unit rows with consistent path/depth/numchild."""

    def __init__(self, gen: Gen):
        from qunli.orgs.models import Unit

        self.gen = gen
        self.Unit = Unit
        self.nodes: list[Node] = []

    def root(self, path: str, **fields) -> Node:
        node = Node(self.gen.new_id(self.Unit), path, len(path) // 4, fields)
        self.nodes.append(node)
        return node

    def child(self, parent: Node, **fields) -> Node:
        parent.children += 1
        node = Node(self.gen.new_id(self.Unit), parent.path + path_step(parent.children), parent.depth + 1, fields)
        self.nodes.append(node)
        return node

    def line_units(self, parent: Node, names: dict, region: str, level: str, kind: str, only=None) -> None:
        for code, pattern in names.items():
            if only is not None and code not in only:
                continue
            parent.lines[code] = self.child(parent, name=pattern.format(r=region), level=level,
                                            line_id=self.gen.lines[code].pk, kind=kind)

    def flush(self, existing_children: dict | None = None) -> None:
        objs = []
        created = timezone.now()
        for n in self.nodes:
            objs.append(self.Unit(pk=n.pk, path=n.path, depth=n.depth, numchild=n.children, created_at=created,
                                  name_sort=phrase_key(n.fields["name"]), **n.fields))
        self.Unit.objects.bulk_create(objs, batch_size=2000)
        self.nodes = []


# --------------------------------------------------------------------------- fast inserts

def insert_rows(model, objs) -> None:
    """``bulk_create`` for the largest tables without its per-value SQL compilation: one
    prepared INSERT run with ``executemany``. Values go through the same backend adapters
    (dates, datetimes); every object must carry its primary key."""
    if not objs:
        return
    from django.db import models as m

    ops = connection.ops
    fields = [f for f in model._meta.concrete_fields]
    conv = []
    for f in fields:
        if isinstance(f, m.DateTimeField):
            conv.append(ops.adapt_datetimefield_value)
        elif isinstance(f, m.DateField):
            conv.append(ops.adapt_datefield_value)
        elif isinstance(f, m.DecimalField):
            conv.append(lambda v: None if v is None else str(v))
        else:
            conv.append(None)
    cols = ", ".join(ops.quote_name(f.column) for f in fields)
    sql = f"INSERT INTO {ops.quote_name(model._meta.db_table)} ({cols}) VALUES ({', '.join(['%s'] * len(fields))})"
    attnames = [f.attname for f in fields]
    rows = []
    for o in objs:
        d = o.__dict__
        rows.append(tuple(d[a] if c is None else c(d[a]) for a, c in zip(attnames, conv, strict=True)))
    with connection.cursor() as cur:
        for i in range(0, len(rows), 5000):
            cur.executemany(sql, rows[i:i + 5000])


# --------------------------------------------------------------------------- per-county generation

@dataclass
class Place:
    """Where persons are registered: a region node or an employer (organ/school/enterprise)."""
    node: Node
    kind: str  # county/township/village/organ/school/enterprise
    weight: float
    township: Node | None = None
    village: Node | None = None
    address: str = ""


def _county_tree(gen: Gen, tb: TreeBuilder, parent: Node, name: str, code6: str) -> tuple[Node, list[Place]]:
    from qunli.orgs.models import Level, UnitKind

    r = gen.rng
    short = name[:-1] if len(name) > 2 else name
    county = tb.child(parent, name=name, short_name=short, level=Level.COUNTY, division_code=code6,
                      kind=UnitKind.GEOGRAPHIC, address=f"{name}人民路1号",
                      established_on=dt.date(1949, 10, 1))
    tb.line_units(county, LINE_UNIT_NAMES, name, Level.COUNTY, UnitKind.ORGAN)
    places = [Place(county, "county", 500)]
    # county organs (机关), each with its own union and some with league/women branches
    for oname in ORGANS:
        full = name + oname[1:]
        organ = tb.child(county, name=full, short_name=oname[1:], level=Level.COUNTY, kind=UnitKind.ORGAN,
                         address=f"{name}{r.choice(['人民路', '解放路', '中山路', '建设路'])}{r.randint(1, 200)}号")
        only = {"union"} | ({"league"} if r.random() < 0.5 else set()) | ({"women"} if r.random() < 0.5 else set())
        tb.line_units(organ, {"union": "{r}机关工会", "league": "{r}团支部", "women": "{r}妇委会"}, full,
                      Level.COUNTY, UnitKind.ORGAN, only)
        places.append(Place(organ, "organ", 50))
    # county schools
    for sname in ("第一中学", "第二中学", "职业技术教育中心", "实验小学", "第一幼儿园"):
        full = name + sname
        school = tb.child(county, name=full, short_name=sname, level=Level.COUNTY, kind=UnitKind.SCHOOL)
        tb.line_units(school, {"union": "{r}教职工工会", "league": "共青团{r}委员会", "ggw": "{r}关工委"}, full,
                      Level.COUNTY, UnitKind.SCHOOL)
        places.append(Place(school, "school", 120))
    # industrial park with its enterprises
    park_name = f"{short}经济开发区"
    park = tb.child(county, name=park_name, level=Level.COUNTY, kind=UnitKind.PARK,
                    address=f"{name}{park_name}管委会")
    tb.line_units(park, {"union": "{r}联合工会", "league": "共青团{r}工作委员会", "women": "{r}妇女联合会"},
                  park_name, Level.COUNTY, UnitKind.PARK)
    places.append(Place(park, "park", 20))
    places.extend(_enterprises(gen, tb, park, code6, 30, Level.COUNTY, park_name))

    # townships: the first two are 街道 (urban), the rest 镇/乡
    pool = list(PLACE_A[i:i + 2] for i in range(0, len(PLACE_A), 2))
    r.shuffle(pool)
    for t in range(gen.scale.townships):
        base = pool[t % len(pool)]
        tname = base + ("街道" if t < 2 else r.choice(PLACE_SUFFIX_TOWN))
        tcode = f"{code6}{(1 if t < 2 else 100) + t:03d}"
        town = tb.child(county, name=tname, short_name=base, level=Level.TOWNSHIP, division_code=tcode,
                        kind=UnitKind.GEOGRAPHIC, address=f"{name}{tname}政府")
        tb.line_units(town, TOWNSHIP_LINES, tname, Level.TOWNSHIP, UnitKind.ORGAN)
        places.append(Place(town, "township", 100, township=town))
        urban = t < 2
        # schools in the township
        for sname in (["中心小学", "初级中学"] + (["中心幼儿园"] if r.random() < 0.6 else [])):
            full = base + sname if not urban else f"{name}{base}{sname}"
            school = tb.child(town, name=full, level=Level.TOWNSHIP, kind=UnitKind.SCHOOL)
            tb.line_units(school, {"union": "{r}教职工工会", "league": "{r}团支部", "ggw": "{r}关工委"}, full,
                          Level.TOWNSHIP, UnitKind.SCHOOL, None if sname == "初级中学" else {"union", "ggw"})
            places.append(Place(school, "school", 40, township=town))
        places.extend(_enterprises(gen, tb, town, code6, r.randint(10, 18), Level.TOWNSHIP, tname, town))
        # villages / communities
        nvill = gen.scale.villages_per_township + r.randint(-3, 3)
        used = set()
        for v in range(nvill):
            while True:
                vbase = r.choice(VILLAGE_WORDS) + r.choice(VILLAGE_WORDS)
                if vbase not in used and vbase[0] != vbase[1]:
                    used.add(vbase)
                    break
            vname = vbase + ("社区" if urban or v < 1 else "村")
            vcode = f"{tcode}{(1 if vname.endswith('社区') else 200) + v:03d}"
            village = tb.child(town, name=f"{tname}{vname}", short_name=vname, level=Level.VILLAGE,
                               division_code=vcode, kind=UnitKind.GEOGRAPHIC)
            community = vname.endswith("社区")
            names = {"women": "{r}妇联", "league": "{r}团支部", "ggw": "{r}关工委"}
            if community:
                names["union"] = "{r}工会联合会"
            tb.line_units(village, names, vname, Level.VILLAGE, UnitKind.GEOGRAPHIC)
            ngroups = r.randint(2, 4)
            for g in range(ngroups):
                gname = f"{vname}{'第' + '一二三四五六'[g] + '网格' if community else '一二三四五六'[g] + '组'}"
                tb.child(village, name=gname, level=Level.GROUP, kind=UnitKind.GEOGRAPHIC)
            places.append(Place(village, "village", 150, township=town, village=village,
                                address=f"{name}{tname}{vname}"))
    return county, places


def _enterprises(gen, tb, parent, code6, n, level, region, town=None) -> list[Place]:
    from qunli.orgs.models import UnitKind

    r = gen.rng
    out = []
    used = set()
    for _ in range(n):
        while True:
            ename = f"{region[:2]}{r.choice(ENTERPRISE_WORDS)}{r.choice(INDUSTRIES)}"
            if ename not in used:
                used.add(ename)
                break
        body = "".join(r.choice("0123456789ABCDEFGHJKLMNPQRTUWXY") for _ in range(9))
        ent = tb.child(parent, name=ename, level=level, kind=UnitKind.ENTERPRISE,
                       uscc=make_uscc("91", code6, body), address=f"{region}{r.randint(1, 300)}号",
                       established_on=gen.date_between(dt.date(1998, 1, 1), dt.date(2024, 6, 30)))
        only = {"union"} | ({"league"} if r.random() < 0.4 else set()) | ({"women"} if r.random() < 0.3 else set())
        tb.line_units(ent, {"union": "{r}工会委员会", "league": "{r}团支部", "women": "{r}妇委会"}, ename,
                      level, UnitKind.ENTERPRISE, only)
        out.append(Place(ent, "enterprise", r.choice([10, 15, 25, 40, 80]), township=town))
    return out


def _persons(gen: Gen, places: list[Place], code6: str, total: int, progress, task):
    """Persons for one county; returns the lists used by the later stages."""
    from qunli.people.models import Person, PoliticalStatus

    r = gen.rng
    weights = [p.weight for p in places]
    wsum = sum(weights)
    counts = [int(total * w / wsum) for w in weights]
    counts[0] += total - sum(counts)
    seq = {}
    now = timezone.now()
    batch, info = [], []
    for place, n in zip(places, counts, strict=True):
        employer = place.kind in ("organ", "school", "enterprise")
        for _ in range(n):
            gender = "M" if r.random() < 0.5 else "F"
            if employer:
                age = r.randint(20, 59)
            else:
                age = int(min(90, max(18, r.triangular(18, 90, 52))))
            birth = REF_DATE.replace(year=REF_DATE.year - age) - dt.timedelta(days=r.randint(0, 364))
            k = seq.get(birth, 0)
            seq[birth] = k + 1
            if k >= 500:  # three-digit sequence exhausted for that day: shift by a day
                birth -= dt.timedelta(days=1 + k // 500)
                k = seq.get(birth, 0)
                seq[birth] = k + 1
            id_number = make_id_number(code6, birth, 2 * (k % 500) + (1 if gender == "M" else 0))
            if age < 28:
                pol = r.choices([PoliticalStatus.LEAGUE, PoliticalStatus.MASSES, PoliticalStatus.CPC], [45, 45, 10])[0]
            else:
                pol = r.choices([PoliticalStatus.CPC, PoliticalStatus.MASSES, PoliticalStatus.DEMOCRATIC],
                                [22 if not employer else 45, 77, 1])[0]
            name = gen.person_name(gender)
            p = Person(pk=gen.new_id(Person), name=name, name_sort=sort_key(name), gender=gender, birth_date=birth,
                       ethnicity="汉族" if r.random() < 0.93 else r.choice(["回族", "藏族", "东乡族", "满族"]),
                       political_status=pol, education=r.choice(EDUCATION),
                       workplace=place.node.fields["name"] if employer else "",
                       unit_id=place.node.pk, created_at=now, updated_at=now)
            p.set_sensitive("id_number", id_number)
            p.set_sensitive("phone", gen.phone())
            if place.address or place.kind == "village":
                p.set_sensitive("address", f"{place.address}{r.randint(1, 12)}组{r.randint(1, 120)}号")
            batch.append(p)
            info.append((p.pk, gender, age, place))
            if len(batch) >= 5000:
                insert_rows(Person, batch)
                progress.advance(task, len(batch))
                batch = []
    if batch:
        insert_rows(Person, batch)
        progress.advance(task, len(batch))
    return info


def _roles(gen: Gen, county: Node, places: list[Place], info: list, code6: str, cname: str):
    """Memberships, volunteers, teams, positions, cadres, base conditions and venues."""
    from qunli.orgs.actions import percent_score
    from qunli.orgs.models import BaseCondition, Inspection, Position, PositionTitle, Venue, VenueKind
    from qunli.people.models import (
        CadreProfile,
        Membership,
        Recognition,
        Team,
        TeamKind,
        TeamMember,
        Training,
        VolunteerProfile,
    )

    r = gen.rng
    L = gen.lines
    memberships = []
    by_place: dict[int, list] = {}
    for pk, gender, age, place in info:
        by_place.setdefault(place.node.pk, []).append((pk, gender, age))
        lu = place.node.lines
        joined = gen.date_between(dt.date(2000, 1, 1), REF_DATE)

        def add(code, unit_node, number_prefix, pk=pk, joined=joined):
            memberships.append(Membership(pk=gen.new_id(Membership), person_id=pk, line_id=L[code].pk,
                                          unit_id=unit_node.pk, joined_on=joined,
                                          number=f"{number_prefix}{code6}{pk:08d}",
                                          status="active" if r.random() < 0.95 else "transferred"))

        if "union" in lu and age < 60 and r.random() < 0.85:
            add("union", lu["union"], "GH")
        elif place.kind == "village" and "union" in lu and age < 60 and r.random() < 0.2:
            add("union", lu["union"], "GH")
        if age <= 28 and r.random() < 0.6:
            target = lu.get("league") or (place.township.lines.get("league") if place.township else None)
            if target:
                add("league", target, "TY")
        if gender == "F" and place.kind == "village" and r.random() < 0.25:
            add("women", lu["women"], "FL")
        if place.kind == "school" and r.random() < 0.15:
            add("science", (place.township or county).lines["science"], "KX")
        if r.random() < 0.015:
            add("disabled", county.lines["disabled"], "CL")
        if r.random() < 0.003:
            add("overseas", county.lines["overseas"], "QL")
    for place in places:
        if place.kind == "enterprise":
            staff = by_place.get(place.node.pk)
            if staff:
                memberships.append(Membership(pk=gen.new_id(Membership), person_id=staff[0][0],
                                              line_id=L["commerce"].pk, unit_id=county.lines["commerce"].pk,
                                              number=f"GSL{code6}{staff[0][0]:08d}",
                                              joined_on=gen.date_between(dt.date(2010, 1, 1), REF_DATE)))
    insert_rows(Membership, memberships)

    # 五老 volunteers: older residents and retired cadres, registered with the nearest 关工委
    n_vol = gen.scale.volunteers_per_county
    elders = [(pk, place) for pk, _g, age, place in info if age >= 58 and place.kind in ("village", "township", "county")]
    r.shuffle(elders)
    cats, cw = zip(*VOLUNTEER_CATEGORIES, strict=True)
    volunteers, trainings, recognitions = [], [], []
    vol_by_area: dict[int, list] = {}
    for i, (pk, place) in enumerate(elders[:n_vol]):
        ggw = (place.village or place.township or county).lines.get("ggw") or county.lines["ggw"]
        cat = r.choices(cats, cw)[0]
        reg = gen.date_between(dt.date(2015, 1, 1), REF_DATE - dt.timedelta(days=30))
        certified = r.random() < 0.9
        v = VolunteerProfile(pk=gen.new_id(VolunteerProfile), person_id=pk, unit_id=ggw.pk, category=cat,
                             skills=VOLUNTEER_SKILLS[cat],
                             certificate_no=f"{cname}关工委聘〔{reg.year}〕{i + 1:04d}号" if certified else "",
                             certificate_date=reg if certified else None,
                             status=r.choices(["active", "paused", "retired"], [88, 7, 5])[0], registered_on=reg)
        volunteers.append(v)
        if place.township is not None:
            vol_by_area.setdefault(place.township.pk, []).append(pk)
        vol_by_area.setdefault(county.pk, []).append(pk)
        for _ in range(r.randint(0, 3)):
            trainings.append(Training(volunteer_id=v.pk, on=gen.date_between(reg, REF_DATE),
                                      title=r.choice(TRAININGS), hours=r.choice([2, 4, 4, 8, 16])))
        if r.random() < 0.06:
            recognitions.append(Recognition(volunteer_id=v.pk, on=gen.date_between(reg, REF_DATE),
                                            title=r.choice(["十佳五老", "优秀五老志愿者", "关心下一代工作先进个人"]),
                                            level=r.choice(["县级", "县级", "市级", "省级"])))
    VolunteerProfile.objects.bulk_create(volunteers, batch_size=2000)
    Training.objects.bulk_create(trainings, batch_size=2000)
    Recognition.objects.bulk_create(recognitions, batch_size=2000)

    # teams
    teams, tmembers = [], []
    county_kinds = [(TeamKind.LECTURE, "五老宣讲团"), (TeamKind.CARE_GUIDANCE, "关爱指导团"),
                    (TeamKind.TECH, "五老科技服务团"), (TeamKind.MENTORING, "五老帮教团"),
                    (TeamKind.NETCAFE, "网吧义务监督员队伍"), (TeamKind.PSYCH, "心理健康关爱团队"),
                    (TeamKind.LAWYERS, "五老律师服务队"), (TeamKind.CORRESPONDENTS, "关工委通讯员队伍")]
    town_kinds = [(TeamKind.LECTURE, "五老宣讲团"), (TeamKind.CARE_GUIDANCE, "关爱指导团"),
                  (TeamKind.CORRESPONDENTS, "通讯员队伍")]
    areas = [(county, county_kinds)] + [(p.node, town_kinds) for p in places if p.kind == "township"]
    for area, kinds in areas:
        pool = vol_by_area.get(area.pk, [])
        for kind, label in kinds:
            if not pool:
                break
            members = r.sample(pool, min(len(pool), r.randint(6, 25)))
            t = Team(pk=gen.new_id(Team), unit_id=area.lines["ggw"].pk, name=f"{area.fields['name']}{label}",
                     kind=kind, leader_id=members[0],
                     founded_on=gen.date_between(dt.date(2016, 1, 1), dt.date(2025, 6, 30)))
            teams.append(t)
            for j, m in enumerate(members):
                tmembers.append(TeamMember(team_id=t.pk, person_id=m, role="团长" if j == 0 else "成员",
                                           joined_on=t.founded_on))
    Team.objects.bulk_create(teams, batch_size=2000)
    TeamMember.objects.bulk_create(tmembers, batch_size=2000)

    # leadership teams (班子), cadres and base conditions for every line unit
    positions, cadres, conditions = [], [], []
    cadre_persons = set()
    holders_pool = {p.node.pk: by_place.get(p.node.pk, []) for p in places}
    for place in places:
        pool = [pk for pk, _g, age in holders_pool[place.node.pk] if 28 <= age <= 62] or \
               [pk for pk, _g, _a in holders_pool[place.node.pk]]
        if not pool:
            continue
        for code, lu in place.node.lines.items():
            seats = [(PositionTitle.CHAIR, 0.93), (PositionTitle.VICE, 0.82)]
            if place.kind in ("county", "township"):
                seats += [(PositionTitle.EXEC_VICE, 0.8), (PositionTitle.VICE, 0.6),
                          (PositionTitle.OFFICE_DIRECTOR, 0.7)]
            for title, p_filled in seats:
                if r.random() > p_filled:
                    continue  # vacant seat
                start = gen.date_between(dt.date(2017, 6, 1), dt.date(2025, 12, 31))
                ends = start.replace(year=start.year + 5) if not (start.month == 2 and start.day == 29) \
                    else dt.date(start.year + 5, 2, 28)
                pk = r.choice(pool)
                chair_label = gen.lines[code].chair_title
                label = {PositionTitle.CHAIR: chair_label, PositionTitle.EXEC_VICE: "常务副" + chair_label,
                         PositionTitle.VICE: "副" + chair_label, PositionTitle.OFFICE_DIRECTOR: "办公室主任"}[title]
                positions.append(Position(unit_id=lu.pk, title=title, title_label=label, person_id=pk,
                                          is_parttime=place.kind not in ("county",) or r.random() < 0.3,
                                          started_on=start, term_ends_on=ends))
                if place.kind in ("county", "township") and pk not in cadre_persons:
                    cadre_persons.add(pk)
                    cadres.append(CadreProfile(person_id=pk, unit_id=lu.pk, post=f"{lu.fields['name']}{label}",
                                               source=r.choice(["elected", "appointed", "appointed", "parttime"]),
                                               is_fulltime=place.kind == "county",
                                               grassroots_years=r.randint(0, 20)))
            if r.random() < 0.15:  # a predecessor who left, some before the term was up
                start = gen.date_between(dt.date(2012, 1, 1), dt.date(2017, 5, 31))
                early = r.random() < 0.3
                positions.append(Position(unit_id=lu.pk, title=PositionTitle.CHAIR, person_id=r.choice(pool),
                                          title_label=gen.lines[code].chair_title, started_on=start,
                                          term_ends_on=start.replace(year=start.year + 5) if start.day < 29 else None,
                                          ended_on=start + dt.timedelta(days=r.randint(400, 1800)),
                                          end_reason="工作调动" if early else "换届", ended_early=early))
            if place.kind in ("county", "township", "village"):
                village = place.kind == "village"
                conditions.append(BaseCondition(
                    unit_id=lu.pk, lacks_staff=r.random() < (0.25 if village else 0.08),
                    lacks_establishment=r.random() < (0.6 if village else 0.2),
                    lacks_venue=r.random() < (0.22 if village else 0.05),
                    lacks_funding=r.random() < (0.4 if village else 0.15),
                    staff_count=r.randint(0, 3) if village else r.randint(2, 9),
                    annual_funding=r.choice([0, 2000, 5000, 10000, 20000]) if village else r.choice([30000, 50000, 80000, 120000])))
    Position.objects.bulk_create(positions, batch_size=2000)
    CadreProfile.objects.bulk_create(cadres, batch_size=2000)
    BaseCondition.objects.bulk_create(conditions, batch_size=2000)

    # venues and inspections
    venues, inspections, met = [], [], []
    kind_to_checklist = {}
    for cl in gen.checklists:
        for k in cl.venue_kinds:
            kind_to_checklist[k] = cl
    venue_plan = {"village": [("women", VenueKind.WOMENS_HOME, "妇女之家", 0.9), ("ggw", VenueKind.CARE_STATION, "关爱工作站", 0.6),
                              (None, VenueKind.ARCHIVE_ROOM, "村级档案室", 0.95), ("union", VenueKind.WORKERS_HOME, "职工之家", 0.9)],
                  "township": [("league", VenueKind.YOUTH_HOME, "青年之家", 0.8), ("union", VenueKind.WORKERS_HOME, "职工之家", 0.9),
                               ("ggw", VenueKind.TUTORING, "校外辅导站", 0.7), ("science", VenueKind.SCIENCE, "科普活动站", 0.5)],
                  "county": [("league", VenueKind.YOUTH_HOME, "青少年活动中心", 1), ("women", VenueKind.WOMENS_HOME, "妇女儿童之家", 1),
                             ("ggw", VenueKind.LEIFENG_SCHOOL, "雷锋学校", 0.6)],
                  "enterprise": [("union", VenueKind.WORKERS_HOME, "职工之家", 0.45)],
                  "school": [("ggw", VenueKind.HOPE_ROOM, "希望小屋", 0.3), ("ggw", VenueKind.TUTORING, "校外辅导站", 0.4)]}
    inspectors = ["县委群团办督查组", "县总工会组织部", "县妇联基层组织建设部", "县关工委办公室", "县档案馆业务指导科"]
    for place in places:
        for code, kind, label, prob in venue_plan.get(place.kind, []):
            unit = place.node if code is None else place.node.lines.get(code)
            if unit is None or r.random() > prob:
                continue
            opened = gen.date_between(dt.date(2012, 1, 1), dt.date(2025, 10, 31))
            v = Venue(pk=gen.new_id(Venue), unit_id=unit.pk, name=f"{place.node.fields.get('short_name') or place.node.fields['name']}{label}",
                      kind=kind, address=place.address or place.node.fields.get("address", ""),
                      area_m2=r.choice([30, 40, 60, 80, 120, 200]), opened_on=opened)
            cl = kind_to_checklist.get(kind)
            if cl is not None:
                items = list(cl.items.all())
                quality = r.random()
                for yr in sorted(r.sample([2023, 2024, 2025, 2026], r.randint(1, 2))):
                    on = gen.date_between(max(opened, dt.date(yr, 3, 1)), dt.date(yr, 10, 31))
                    if on < opened:
                        continue
                    got = [it for it in items if r.random() < 0.55 + 0.45 * quality]
                    score = percent_score(sum(it.points for it in got), sum(it.points for it in items))
                    ins = Inspection(pk=gen.new_id(Inspection), venue_id=v.pk, checklist_id=cl.pk, on=on,
                                     inspector=r.choice(inspectors), score=score, passed=score >= cl.pass_score,
                                     findings="" if score >= cl.pass_score else "未达标项：" + "、".join(
                                         it.text for it in items if it not in got))
                    inspections.append(ins)
                    met.extend(Inspection.met_items.through(inspection_id=ins.pk, checklistitem_id=it.pk) for it in got)
                    v.latest_score, v.latest_passed, v.latest_inspected_on = score, ins.passed, on
            venues.append(v)
    Venue.objects.bulk_create(venues, batch_size=2000)
    Inspection.objects.bulk_create(inspections, batch_size=2000)
    Inspection.met_items.through.objects.bulk_create(met, batch_size=4000)
    return {"memberships": len(memberships), "volunteers": len(volunteers), "positions": len(positions),
            "venues": len(venues), "inspections": len(inspections), "teams": len(teams)}


# --------------------------------------------------------------------------- accounts

def _accounts(county: Node, first_town: Node, first_village: Node, lines) -> list[tuple[str, str]]:
    from qunli.core.models import Grant, User

    where = {"county": county.pk, "township": first_town.pk, "village": first_village.pk}
    hashed = make_password(DEMO_PASSWORD)
    now = timezone.now()
    out = []
    for username, display, kind, role, at, line_codes in DEMO_ACCOUNTS:
        # update_or_create: a regenerated demo keeps its accounts, which the audit trail refers to
        user, _ = User.objects.update_or_create(username=username, defaults=dict(
            display_name=display, kind=kind, password=hashed, must_change_password=False, password_changed_at=now,
            is_active=True))
        if role:
            g = Grant.objects.create(user=user, role=role, unit_id=where[at], all_lines=line_codes == "all")
            if line_codes != "all":
                g.lines.set([lines[c] for c in line_codes])
        out.append((username, display))
    return out


def validate_demo_password() -> None:
    from django.contrib.auth.password_validation import validate_password

    validate_password(DEMO_PASSWORD)


# --------------------------------------------------------------------------- wiping

def _demo_models():
    from qunli.core.models import Grant
    from qunli.orgs.models import BaseCondition, Inspection, Position, Unit, UnitEvent, Venue
    from qunli.people.models import (
        CadreProfile,
        Membership,
        Person,
        Recognition,
        Team,
        TeamMember,
        Training,
        VolunteerProfile,
    )

    return [Inspection.met_items.through, Inspection, Venue, BaseCondition, Position, TeamMember, Team, Training,
            Recognition, VolunteerProfile, CadreProfile, Membership, Grant.lines.through, Grant, Person,
            UnitEvent.related.through, UnitEvent, Unit]


# Rows the migrations seed in the work apps: configuration, not demo data.
REFERENCE_MODELS = {"casework.requesttype", "casework.holiday", "records.category"}


def _work_models():
    """Every table of the work apps (casework, portal, records) but their reference data."""
    from django.apps import apps

    return [m for label in ("casework", "portal", "records")
            for m in apps.get_app_config(label).get_models(include_auto_created=True)
            if m._meta.managed and m._meta.label_lower not in REFERENCE_MODELS]


def wipe() -> None:
    """Delete demo-generated rows (fast, table by table: foreign keys are checked at commit) and
    the search index entries. The append-only audit trails stay, and with them the demo
    accounts they name (their grants go; ``_accounts`` gives them fresh ones)."""
    from qunli.core import search

    with transaction.atomic(), connection.cursor() as cur:
        for model in _work_models() + _demo_models():
            cur.execute(f"DELETE FROM {connection.ops.quote_name(model._meta.db_table)}")
        for kind in search.kinds():
            cur.execute(f"DELETE FROM {search.get_index(kind).table}")
        cur.execute(f"DELETE FROM {search.OUTBOX}")


# --------------------------------------------------------------------------- entry points

def _city_plan(scale: Scale) -> list[tuple[str, str, list[tuple[str, str]]]]:
    """[(city name, city code4, [(county name, county code6), ...]), ...]"""
    if scale.name == "province":
        plan = [(n, c, []) for n, c in CITY_NAMES]
        for i in range(PROVINCE_COUNTIES):
            n, c, lst = plan[i % len(plan)]
            lst.append((COUNTY_NAMES[i % len(COUNTY_NAMES)] if i < len(COUNTY_NAMES) else f"示范{i}县",
                        f"{c}{21 + len(lst):02d}"))
        return plan
    counties = [(COUNTY_NAMES[i], f"6205{21 + i:02d}") for i in range(scale.counties)]
    return [("天水市", "6205", counties)]


def generate(scale: str = "county", seed: int = DEFAULT_SEED, force: bool = False, console=None,
             fast_unsafe: bool = False, with_work: bool = True) -> dict:
    """Generate the demo data set. Returns a summary (counts, accounts, seconds)."""
    import time

    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from qunli.orgs.models import Level, Unit, UnitKind

    if scale not in SCALES:
        raise ValueError(f"未知规模 {scale}（可选：{', '.join(SCALES)}）")
    spec = SCALES[scale]
    validate_demo_password()
    console = console or Console()
    t0 = time.perf_counter()
    if Unit.objects.exists():
        if not force:
            raise RuntimeError("数据库中已有单位数据；演示数据只写入空库。确需覆盖请加 --force（将删除全部单位、人员和业务数据，演示账户保留并重设权限）。")
        wipe()
    plan = _city_plan(spec)
    n_counties = sum(len(c[2]) for c in plan)
    total_persons = spec.persons_per_county * n_counties
    if fast_unsafe and connection.vendor == "sqlite":
        with connection.cursor() as cur:
            cur.execute("PRAGMA journal_mode=OFF")
            cur.execute("PRAGMA synchronous=OFF")
            cur.execute("PRAGMA cache_size=-400000")
    per_county_tx = n_counties > 1
    summary = {"scale": scale, "seed": seed, "units": 0, "persons": 0, "memberships": 0, "volunteers": 0,
               "positions": 0, "venues": 0, "inspections": 0, "teams": 0}
    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                        console=console)
    with progress, (nullcontext() if per_county_tx else transaction.atomic()):
        gen = Gen(seed, spec, progress)
        t_counties = progress.add_task("区县", total=n_counties)
        t_persons = progress.add_task("人员（加密身份证号、电话、住址）", total=total_persons)
        with (transaction.atomic() if per_county_tx else nullcontext()):
            tb = TreeBuilder(gen)
            prov = tb.root(path_step(1), name="甘肃省", short_name="甘肃", level=Level.PROVINCE,
                           division_code="620000", kind=UnitKind.GEOGRAPHIC)
            tb.line_units(prov, {"party": "{r}委群团工作办公室", "union": "{r}总工会", "women": "{r}妇女联合会",
                                 "ggw": "{r}关心下一代工作委员会", "archives": "{r}档案馆"}, "甘肃省",
                          Level.PROVINCE, UnitKind.ORGAN)
            cities = []
            for cname, ccode, counties in plan:
                if not counties:
                    continue
                city = tb.child(prov, name=cname, level=Level.CITY, division_code=f"{ccode}00", kind=UnitKind.GEOGRAPHIC)
                tb.line_units(city, LINE_UNIT_NAMES, cname, Level.CITY, UnitKind.ORGAN)
                cities.append((city, counties))
            # numchild of province/cities is final now; later counties are added as their children
            units_before = len(tb.nodes)
            tb.flush()
            summary["units"] += units_before
        first = None
        for city, counties in cities:
            for name, code6 in counties:
                with (transaction.atomic() if per_county_tx else nullcontext()):
                    county, places = _county_tree(gen, tb, city, name, code6)
                    summary["units"] += len(tb.nodes)
                    tb.flush()
                    Unit.objects.filter(pk=city.pk).update(numchild=city.children)
                    info = _persons(gen, places, code6, spec.persons_per_county, progress, t_persons)
                    summary["persons"] += len(info)
                    counts = _roles(gen, county, places, info, code6, name)
                    for k, v in counts.items():
                        summary[k] += v
                    if first is None:
                        town = next(p.node for p in places if p.kind == "township")
                        village = next(p.node for p in places if p.kind == "village")
                        first = (county, town, village)
                        summary["accounts"] = _accounts(county, town, village, gen.lines)
                        summary["county"] = name
                progress.advance(t_counties)
        if connection.vendor == "postgresql":
            from django.core.management.color import no_style

            models = [m for m in _demo_models() if not m._meta.auto_created]
            with connection.cursor() as cur:
                for sql in connection.ops.sequence_reset_sql(no_style(), models):
                    cur.execute(sql)
        # after the sequences moved past the explicit keys: the actions insert with generated ones
        if with_work and first is not None:
            from qunli import demo_work

            with (transaction.atomic() if per_county_tx else nullcontext()):
                summary["work"] = demo_work.populate(first[0].pk, seed, small=spec.persons_per_county < 1000)
    if fast_unsafe and connection.vendor == "sqlite":
        with connection.cursor() as cur:
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("ANALYZE")
    summary["seconds"] = round(time.perf_counter() - t0, 1)
    return summary


# --------------------------------------------------------------------------- benchmark cache

def cached_database(scale: str = "county", seed: int = DEFAULT_SEED, log=None) -> Path:
    """Path of a migrated SQLite database holding the demo data for ``scale``; built once
    (in a child process, so the running process keeps its own database) and reused."""
    from django.conf import settings

    if str(settings.PROJECT_DIR) not in sys.path:
        sys.path.insert(0, str(settings.PROJECT_DIR))
    from bench.common import cache_dir

    path = cache_dir("demo") / f"{scale}-seed{seed}-v{GENERATOR_VERSION}.sqlite3"
    out = log or sys.stderr
    if path.exists():
        if _unapplied_migrations(path):  # the schema moved on since the cache was built
            env = dict(os.environ, DATABASE_URL=f"sqlite:///{path}", DJANGO_SETTINGS_MODULE="qunli.settings")
            subprocess.run([sys.executable, "-m", "qunli.cli", "migrate", "--noinput", "-v", "0"], env=env,
                           check=True, stdout=out, stderr=out)
            _analyze(path)  # new indexes need statistics, or the planner guesses about them
        return path
    tmp = path.with_suffix(".building")
    for p in (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
        p.unlink(missing_ok=True)
    env = dict(os.environ, DATABASE_URL=f"sqlite:///{tmp}", DJANGO_SETTINGS_MODULE="qunli.settings")
    for args in (["migrate", "--noinput", "-v", "0"],
                 ["demo", "--scale", scale, "--seed", str(seed), "--fast-unsafe"]):
        subprocess.run([sys.executable, "-m", "qunli.cli", *args], env=env, check=True, stdout=out, stderr=out)
    for suffix in ("-wal", "-shm"):
        Path(f"{tmp}{suffix}").unlink(missing_ok=True)
    os.replace(tmp, path)
    return path


def _analyze(path: Path) -> None:
    """Statistics for the indexes that have none yet (those a migration just created); the
    rest were gathered when the database was built (a full ANALYZE of a province takes
    minutes)."""
    import sqlite3

    with sqlite3.connect(path) as db:
        if not db.execute("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'").fetchone():
            db.execute("ANALYZE")
            return
        missing = [name for (name,) in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND name NOT IN "
            "(SELECT idx FROM sqlite_stat1 WHERE idx IS NOT NULL)")]
        for name in missing:
            db.execute(f'ANALYZE "{name}"')


def _unapplied_migrations(path: Path) -> bool:
    import sqlite3

    from django.db.migrations.loader import MigrationLoader

    on_disk = set(MigrationLoader(None, ignore_no_migrations=True).disk_migrations)
    with sqlite3.connect(path) as db:
        applied = set(db.execute("SELECT app, name FROM django_migrations"))
    return bool(on_disk - applied)


@contextmanager
def using_database(path: Path):
    """Point the default connection at another SQLite file for the duration of the block."""
    settings_dict = connection.settings_dict
    old = settings_dict["NAME"]
    connection.close()
    settings_dict["NAME"] = str(path)
    try:
        yield
    finally:
        connection.close()
        settings_dict["NAME"] = old
