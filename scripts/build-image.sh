#!/usr/bin/env bash
# Builds sleuth's container image without a container engine or a base image
# download: a static binary per platform (CGO off), then deploy/image writes
# them as an OCI image layout with a minimal non-root base layer made here
# (passwd with uid 65532, Debian's CA bundle). Push the layout with crane:
#   go run github.com/google/go-containerregistry/cmd/crane@v0.22.1 \
#       push --index dist/image ghcr.io/sleuth-sre/sleuth:VERSION
#
# Usage: scripts/build-image.sh [OUT_DIR]      (default dist/image)
#   VERSION    image version (default: git describe)
#   PLATFORMS  default "linux/amd64 linux/arm64"
# The same sources give the same digests: file times come from
# SOURCE_DATE_EPOCH (default: the last commit's time).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

out=${1:-dist/image}
version=${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
revision=$(git rev-parse HEAD 2>/dev/null || true)
platforms=${PLATFORMS:-"linux/amd64 linux/arm64"}
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 0)}

log() { echo "build-image: $*" >&2; }

work=$(mktemp -d "${TMPDIR:-/tmp}/sleuth-image.XXXXXX")
trap 'rm -rf "$work"' EXIT

args=()
for p in $platforms; do
	os=${p%%/*}
	arch=${p#*/}
	arch=${arch%%/*}
	log "building sleuth $version for $p (a first build for a new platform takes minutes)"
	started=$SECONDS
	CGO_ENABLED=0 GOOS=$os GOARCH=$arch go build -trimpath -buildvcs=false \
		-ldflags "-s -w -X main.version=$version" -o "$work/${os}_$arch/sleuth" ./cmd/sleuth
	log "built $p in $((SECONDS - started))s"
	args+=(-binary "$p=$work/${os}_$arch/sleuth")
done
go run ./deploy/image -out "$out" -version "$version" -revision "$revision" "${args[@]}"
