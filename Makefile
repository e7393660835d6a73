.PHONY: run test lint
run:  ## StoreSync embedded: installs what it needs, migrates, seeds the demo, serves :3000
	@scripts/run.sh

test:  ## ruff, mypy, import contracts and the whole pytest suite
	@scripts/test.sh

lint:
	@.venv/bin/ruff check . && .venv/bin/ruff format --check . && .venv/bin/mypy && .venv/bin/lint-imports --no-cache
