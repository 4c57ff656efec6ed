# Steward. "make test" runs everything; "make demo" starts a demo server.
GO ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X github.com/stewardhq/steward.Version=$(VERSION)

.PHONY: build test gosec demo bench fuzz clean

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/steward ./cmd/steward

test:
	scripts/test.sh

# gosec over the module's code; see docs/security-review.md.
gosec:
	scripts/gosec.sh

demo:
	$(GO) run ./cmd/steward serve --demo --db steward.db

# Full-size inventory benchmark on SQLite (about 10 minutes); see bench/RESULTS.md.
bench:
	$(GO) run ./bench/inventory

clean:
	rm -rf bin
