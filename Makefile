# Contributor tasks. The README's quick start needs none of them: it is
# `go run ./cmd/sleuth serve` and `go test ./...`.

VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
GOFLAGS_BUILD := -trimpath -ldflags "-s -w -X main.version=$(VERSION)"

.PHONY: all build run test vet fuzz backends bench image clean

all: vet test build

build: ## static binary in bin/sleuth (no cgo)
	CGO_ENABLED=0 go build $(GOFLAGS_BUILD) -o bin/sleuth ./cmd/sleuth

run:
	go run ./cmd/sleuth serve

test:
	go test ./...

vet:
	go vet ./...

fuzz: ## fuzz the webhook payload decoder for a minute
	go test ./internal/alert -run '^$$' -fuzz FuzzDecode -fuzztime 60s

backends: ## build every pinned backend into bin/ (kube-apiserver takes ~9 min cold)
	scripts/build-backends.sh all

bench:
	go run ./bench/ingest

image: ## multi-arch (amd64, arm64) OCI image layout in dist/image, no container engine needed
	VERSION=$(VERSION) scripts/build-image.sh dist/image

clean:
	rm -f bin/sleuth sleuth.db sleuth.db-wal sleuth.db-shm
