# Two commands for a newcomer:  `make run` starts the platform, `make test` runs every test.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
PG_URL ?= postgres://postgres@127.0.0.1:5432/qunli

.PHONY: run test install install-test assets chromium pdf-libs test-sqlite test-postgres bench lint clean

run: install pdf-libs
	PORT=$(PORT) $(BIN)/qunli serve

test: install-test chromium pdf-libs
	$(MAKE) --no-print-directory test-sqlite test-postgres

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

install: $(BIN)/python assets
	$(BIN)/pip install --quiet -e .

install-test: $(BIN)/python assets
	$(BIN)/pip install --quiet -e ".[test,bench]"

# Front-end assets come from the npm registry and are served locally (no CDN at run time).
assets: node_modules/.package-lock.json
node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# Browser tests drive Debian's Chromium through Playwright (never `playwright install`).
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "Installing Debian's chromium for the browser tests…"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null; }

# PDF output (归档文件目录, 销毁清册, 利用证明) uses weasyprint, which needs Pango and a CJK font.
pdf-libs:
	@$(BIN)/python -c "import weasyprint" >/dev/null 2>&1 || { \
	  echo "Installing Pango for PDF output (weasyprint)…"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libpango-1.0-0 libpangoft2-1.0-0 >/dev/null; }
	@fc-list :lang=zh family 2>/dev/null | grep -q . || { \
	  echo "Installing a CJK font (fonts-noto-cjk) for PDF output…"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-noto-cjk fontconfig >/dev/null; }

test-sqlite:
	@echo "== tests on SQLite =="
	$(BIN)/pytest -q -n 2 --dist loadfile

# The PostgreSQL run is never skipped: the server must answer, or this target fails.
test-postgres:
	@echo "== tests on PostgreSQL ($(PG_URL)) =="
	@pg_isready -q -h 127.0.0.1 -p 5432 || { echo "PostgreSQL is not reachable on 127.0.0.1:5432"; exit 1; }
	DATABASE_URL=$(PG_URL) QUNLI_REQUIRE_DB=postgresql $(BIN)/pytest -q -n 2 --dist loadfile -m "not browser"

bench: install-test
	$(BIN)/qunli bench $(NAME) --json

lint:
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) node_modules var
