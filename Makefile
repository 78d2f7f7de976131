# Two entry points; both install what they need first (scripts/setup.sh).
.PHONY: setup demo test bench

setup:
	@scripts/setup.sh

demo: setup
	cargo run --release --quiet -- demo

# The whole test suite. GPU tests run on Mesa's lavapipe and fail (not skip)
# when no adapter is found and CI is set; so do the Slurm tests of `batch`
# without the one-node cluster, started here and stopped after, pass or fail.
test: setup
	scripts/slurm.sh start || echo "slurm.sh: no cluster: the Slurm tests fail under CI"
	PATH="$(CURDIR)/.venv/bin:$$PATH" DSA110_PYTHON="$(CURDIR)/.venv/bin/python" \
	DSA110_CASA_PYTHON="$(CURDIR)/.venv-casa/bin/python" \
	SLURM_CONF="$(CURDIR)/target/slurm/slurm.conf" cargo test --release; \
	status=$$?; scripts/slurm.sh stop; exit $$status
	cargo bench --no-run

bench: setup
	cargo bench
