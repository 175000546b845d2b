# s3proxy — build, test, lint.
#
#   make build       the binary, into bin/s3proxy
#   make test        install the e2e clients, go vet, every test including e2e
#                    (with CI=true a missing tool or service fails instead of skipping)
#   make test-short  go vet and go test -short (no 5 GiB memory test, no tool installs)
#   make e2e-reference  the e2e client tests against versitygw, to check client set-ups
#   make lint        gofmt check
#   make bench       load benchmarks

GO ?= go
# The pinned clients from scripts/install-tools.sh come first.
export PATH := $(CURDIR)/.tools/bin:$(PATH)

.PHONY: all build tools vet test test-short e2e-reference lint bench

all: build

build:
	$(GO) build -o bin/s3proxy ./cmd/s3proxy

tools:
	scripts/install-tools.sh

vet:
	$(GO) vet ./...

test: tools vet
	$(GO) test ./... -count=1 -timeout 30m

test-short: vet
	$(GO) test ./... -count=1 -short -timeout 15m

# Runs the client tests against a reference S3 server (versitygw) instead of
# s3proxy; tests of s3proxy-only features skip. Known versitygw deviations
# fail here and are listed in e2e/README.md.
e2e-reference: tools
	S3PROXY_E2E_TARGET=versitygw $(GO) test ./e2e/ -count=1 -short -timeout 20m

lint:
	@out="$$(gofmt -l $$(git ls-files '*.go'))"; \
	if [ -n "$$out" ]; then echo "gofmt -l: these files need gofmt:"; echo "$$out"; exit 1; fi

# TODO(lead): the load generator (go run ./bench/...) and BENCHMARKS.md figures.
bench:
	@if [ -d bench ]; then $(GO) run ./bench/...; else echo "make bench: ./bench is not written yet" >&2; exit 1; fi
