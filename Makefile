# The two commands of the quick start. Each sets up what it needs (venv, packages, apt) first.
.PHONY: run test setup bench

run:
	bash scripts/setup.sh app
	.venv/bin/peilian serve --demo

test:
	bash scripts/setup.sh test
	bash scripts/test.sh

bench:
	bash scripts/setup.sh test
	.venv/bin/python benchmarks/run_all.py
