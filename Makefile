# The two commands of the README are `make demo` and `make test`; each sets up what it needs itself.
VENV ?= .venv
PY := $(VENV)/bin/python
# pytest workers of `make test` (pytest-xdist; CI has 2 cores); `--dist loadfile` keeps a module's tests, and so its
# module-scoped fixtures (a web app, a Chromium page), in one worker; modules go out in the order Testing/conftest.py
# puts them (the Chromium ones first), not xdist's (most tests first). JOBS=0 runs the suite in this process.
JOBS ?= 2

.PHONY: demo app test test-heavy fuzz bench lint setup setup-test

setup:
	./scripts/bootstrap.sh slicer

setup-test:
	./scripts/bootstrap.sh test,slicer,browser,dicom,nnunet,onnx,ray
	./scripts/install_browser.sh

# demo_output holds only what the demo itself writes, so the README's main command may be run again (--force
# replaces the earlier demo's outputs there; every other command refuses to replace results without it).
demo: setup
	$(PY) -m LesionSegLogic demo demo_output --force

DEMO := demo_output
app: setup
	@test -f $(DEMO)/prediction/probability.nii.gz || $(PY) -m LesionSegLogic demo $(DEMO)
	$(PY) -m LesionSegLogic app --flair $(DEMO)/case/flair.nii.gz --t2 $(DEMO)/case/t2.nii.gz \
		--reference $(DEMO)/case/lesions.nii.gz --probability $(DEMO)/prediction/probability.nii.gz --rule anima

test: setup-test
	$(PY) -m ruff check .
	$(PY) -m mypy
	$(PY) -m pytest -q -n $(JOBS) --dist loadfile --no-loadscope-reorder

test-heavy: setup-test
	$(PY) -m pytest -q -m heavy

fuzz: setup-test
	$(PY) -m pytest -q -m fuzz

bench: setup-test
	for script in benchmarks/bench_*.py; do echo "== $$script"; $(PY) $$script || exit 1; done

lint: setup-test
	$(PY) -m ruff check .
	$(PY) -m mypy
