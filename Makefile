# Two entry points; both install what they need first (scripts/setup.sh).
.PHONY: setup demo test bench

setup:
	@scripts/setup.sh

demo: setup
	cargo run --release --quiet -- demo

# The whole test suite. GPU tests run on Mesa's lavapipe and fail (not skip)
# when no adapter is found and CI is set.
test: setup
	PATH="$(CURDIR)/.venv/bin:$$PATH" DSA110_PYTHON="$(CURDIR)/.venv/bin/python" \
	DSA110_CASA_PYTHON="$(CURDIR)/.venv-casa/bin/python" \
	cargo test --release
	cargo bench --no-run

bench: setup
	cargo bench
