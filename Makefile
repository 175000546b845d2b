# s3proxy — build, test, lint.
#
#   make build       the binary, into bin/s3proxy
#   make test        install the e2e clients, go vet, every test including e2e
#                    (with CI=true a missing tool or service fails instead of skipping)
#   make test-short  go vet and go test -short (no 5 GiB memory test, no tool installs)
#   make e2e-reference  the e2e client tests against versitygw, to check client set-ups
#   make lint        gofmt check
#   make bench       the side-by-side benchmark against versitygw (see BENCHMARKS.md);
#                    BENCH_ARGS="-profiles put-1m-x8 -v" passes flags to it
#   make bench-smoke the same with tiny sizes (part of make test: it fails on errors, never on timings)

GO ?= go
SHELL := /bin/bash
# The pinned clients from scripts/install-tools.sh come first.
export PATH := $(CURDIR)/.tools/bin:$(PATH)

.PHONY: all build tools vet test test-short e2e-reference lint bench bench-smoke

all: build

build:
	$(GO) build -o bin/s3proxy ./cmd/s3proxy

tools:
	scripts/install-tools.sh

vet:
	$(GO) vet ./...

# go test hides the logs of passing tests; the figures the issues ask for
# (server memory peak, bytes on the wire) are collected in a report and
# printed after the run, pass or fail, followed again by go test's package
# result lines so that those stay the last lines of the output.
E2E_REPORT := $(CURDIR)/bin/e2e-report.txt
TEST_LOG := $(CURDIR)/bin/test.log
# The aws cli and aws-sdk-go-v2 flows, re-run with the s3 backend (issue: any backend).
E2E_S3_BACKEND_TESTS := ^(TestAWSCLI|TestSDK)

# bench-smoke runs first so that go test's result lines stay the last lines.
test: tools vet bench-smoke
	@mkdir -p bin && rm -f $(E2E_REPORT)
	@set -o pipefail; S3PROXY_E2E_REPORT=$(E2E_REPORT) $(GO) test ./... -count=1 -timeout 30m 2>&1 | tee $(TEST_LOG); status=$$?; \
	echo; echo "e2e again with chunks in a real S3 server (versitygw) through the s3 backend:"; \
	S3PROXY_E2E_BACKEND=s3 $(GO) test ./e2e/ -run '$(E2E_S3_BACKEND_TESTS)' -count=1 -timeout 20m 2>&1 | tee -a $(TEST_LOG) || status=1; \
	if [ -s $(E2E_REPORT) ]; then \
		echo; echo "e2e figures:"; sed 's/^/    /' $(E2E_REPORT); \
		echo; echo "go test results (repeated from above):"; grep -E '^(ok|FAIL|\?)([[:space:]]|$$)' $(TEST_LOG) || true; \
	fi; exit $$status

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

# versitygw at the version scripts/install-tools.sh pins (read from it, so that the
# two never disagree); only this one tool, so that make bench needs no apt or npm.
VERSITYGW_VERSION := $(shell sed -n 's/^VERSITYGW_VERSION="\(.*\)"/\1/p' scripts/install-tools.sh)

.tools/bin/versitygw:
	GOBIN=$(CURDIR)/.tools/bin $(GO) install github.com/versity/versitygw/cmd/versitygw@$(VERSITYGW_VERSION)

bench: build .tools/bin/versitygw
	$(GO) run ./bench -s3proxy bin/s3proxy -versitygw .tools/bin/versitygw $(BENCH_ARGS)

bench-smoke: build .tools/bin/versitygw
	$(GO) run ./bench -short -s3proxy bin/s3proxy -versitygw .tools/bin/versitygw $(BENCH_ARGS)
