# The two commands a newcomer needs: `make demo` (the pipeline offline on the bundled samples)
# and `make test` (the whole suite). Both create .venv/ on first use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
CHECKOV_VENV := $(VENV)/checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20

.PHONY: setup checkov browser demo serve test test-fast test-slow synth deploy destroy deployment-snapshot iam-report lint bench clean

$(STAMP): requirements.txt requirements-dev.txt requirements-local.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt -r requirements-local.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $(STAMP)

setup: $(STAMP)

# checkov pins libraries the project pins differently: its own virtualenv inside .venv/.
$(CHECKOV_STAMP): requirements-checkov.txt
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/python -m pip install --quiet -r requirements-checkov.txt
	touch $(CHECKOV_STAMP)

checkov: $(CHECKOV_STAMP) synth  ## checkov on the synthesized template (decisions: infra/checkov.py, docs/deploy.md)
	$(CHECKOV_VENV)/bin/checkov -f cdk.out/MediaPipeline.template.json --framework cloudformation --compact --quiet

demo: setup  ## run the pipeline offline on samples/, results in demo-results/
	$(VENV)/bin/media-pipeline demo

serve: setup  ## the web page and API on http://127.0.0.1:8000/, offline (docs/web.md)
	$(VENV)/bin/media-pipeline serve

# The browser tests (tests/web) drive Debian's chromium: installed here where apt-get runs as root; elsewhere they
# are skipped with the reason, except under CI=true, where a missing browser fails the run.
browser:
	@if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then \
	  echo "browser tests: $$(chromium --version 2>/dev/null)"; \
	elif command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	  echo "browser tests: installing Debian's chromium and chromium-driver with apt-get"; \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver >/dev/null 2>&1 || \
	  { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver >/dev/null; }; \
	elif [ "$$CI" = "true" ]; then \
	  echo "browser tests: CI=true needs chromium and chromedriver (apt-get install chromium chromium-driver, as root)"; exit 1; \
	else \
	  echo "browser tests: SKIPPED: chromium/chromedriver are not installed and cannot be (needs apt-get as root)"; \
	fi

test: setup browser $(CHECKOV_STAMP)  ## the whole suite, offline engines and the browser included
	$(PY) -m pytest -n 2 --dist loadfile

test-fast: setup  ## everything but the offline-engine tests
	$(PY) -m pytest -n 2 --dist loadfile -m "not slow"

test-slow: setup
	$(PY) -m pytest -m slow

synth: setup  ## synthesize the CDK app into cdk.out/ (no AWS credentials, no Docker)
	$(PY) app.py

deploy: setup  ## npx aws-cdk@2 deploy with this checkout's settings (needs AWS credentials; docs/deploy.md)
	npx aws-cdk@2 deploy

destroy:  ## npx aws-cdk@2 destroy: keeps the data unless deployed with retain_data=false (docs/deploy.md, "Teardown")
	npx aws-cdk@2 destroy

deployment-snapshot: setup  ## the emulator's copy of the template's roles and limits (after changing infra/)
	$(PY) -m media_pipeline.local.deployment --write

iam-report: setup  ## per role: calls the handler and workflow tests made, denials, grants never used (docs/local-mode.md)
	mkdir -p .cache && rm -f .cache/iam-decisions.jsonl
	MEDIA_PIPELINE_IAM_LOG=$(CURDIR)/.cache/iam-decisions.jsonl $(PY) -m pytest -q -n 2 --dist loadfile -m "not slow" tests/functions tests/workflow tests/local
	$(PY) -m media_pipeline.local.iam_report --log .cache/iam-decisions.jsonl

bench: setup  ## benchmarks: offline start-up, a 40-item batch, per-item overhead, the video worker's memory
	$(PY) benchmarks/startup.py
	$(PY) benchmarks/batch.py --items 40
	$(PY) benchmarks/local_pipeline.py
	$(PY) benchmarks/video_worker.py

clean:
	rm -rf cdk.out demo-results .pytest_cache
