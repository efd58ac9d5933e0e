#!/usr/bin/env bash
# Builds the real backends that sleuth's tests run against, at pinned versions,
# from the Go module proxy into the repo's ignored bin/ (or $SLEUTH_BIN_DIR).
#
# Usage: scripts/build-backends.sh [NAME...]
#   no NAME  the default set: alertmanager victoria-metrics vmalert vmalert-tool
#            victoria-logs
#   all      the default set plus kube-apiserver etcd (the API server alone is
#            a 3.5..9 min cold build on 2 cores) and helm (~3 min cold)
#
# A binary is rebuilt only when it is missing or its stamp bin/.versions/NAME
# does not hold the pinned version, so running this again is cheap. Build
# recipes and measured times: /work/shared/docs/backends.md.
set -euo pipefail

# --- Pins -------------------------------------------------------------------
# kube-apiserver and etcd are pinned by tools/kube/go.mod instead (regenerate it
# with tools/kube/gen-gomod.sh), because their build needs a whole module graph.
readonly ALERTMANAGER_VERSION=v0.35.0
readonly VICTORIAMETRICS_VERSION=v1.151.0 # victoria-metrics, vmalert, vmalert-tool
readonly VICTORIALOGS_VERSION=v1.52.1
readonly HELM_VERSION=v3.22.0 # deploy/ renders, lints and installs its charts with it

readonly DEFAULT_SET=(alertmanager victoria-metrics vmalert vmalert-tool victoria-logs)
readonly KUBE_SET=(kube-apiserver etcd)
readonly ALL_SET=("${DEFAULT_SET[@]}" "${KUBE_SET[@]}" helm)

# Rough cold-cache build times on a 2-core machine (backends.md, and a measured
# run of `all` here: 55s, 19s, 6s, 10s, 208s, 9s in this order, before
# vmalert-tool was added; it took 6s after vmalert), shown so that a long
# silence is not mistaken for a hang. Later builds in a run are quicker
# because they share compiled packages with earlier ones.
declare -A COLD_TIME=(
	[alertmanager]="~20s..2min"
	[victoria-metrics]="~20s..2min"
	[vmalert]="~5s..2min"
	[vmalert-tool]="~5s..2min"
	[victoria-logs]="~10s..2min"
	[kube-apiserver]="~3.5..9min"
	[etcd]="~10s..80s"
	[helm]="~1..3min"
)

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
kube_module=$repo_root/tools/kube

log() { echo "build-backends: $*" >&2; }

usage() {
	sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}" >&2
}

# --- Arguments ----------------------------------------------------------------
names=()
if (($# == 0)); then
	names=("${DEFAULT_SET[@]}")
fi
for arg in "$@"; do
	case $arg in
	-h | --help)
		usage
		exit 0
		;;
	all) names+=("${ALL_SET[@]}") ;;
	*)
		if [[ " ${ALL_SET[*]} " != *" $arg "* ]]; then
			log "unknown backend '$arg'; valid names: ${ALL_SET[*]} all"
			exit 2
		fi
		names+=("$arg")
		;;
	esac
done
# Drop repeats ("all vmalert") but keep the order: vmalert after
# victoria-metrics reuses most of its compiled packages.
declare -A seen=()
wanted=()
for n in "${names[@]}"; do
	[[ -n ${seen[$n]:-} ]] || wanted+=("$n")
	seen[$n]=1
done

# --- Environment --------------------------------------------------------------
# Reproducible, VCS-independent builds; CGO off gives static binaries like the
# upstream releases and needs no C toolchain. GOWORK=off so that a go.work the
# project might add never leaks into these unrelated module graphs.
export GOFLAGS="-trimpath -buildvcs=false"
export CGO_ENABLED=0
export GOWORK=off
# -s -w: no symbol table / DWARF. Stack traces still work, the binaries are
# much smaller and link faster (the API server would be ~170 MB otherwise).
readonly STRIP="-s -w"

bin_dir=${SLEUTH_BIN_DIR:-$repo_root/bin}
mkdir -p "$bin_dir/.versions"
bin_dir=$(cd "$bin_dir" && pwd)
stamp_dir=$bin_dir/.versions

# Two concurrent runs (say, two test packages bootstrapping at once) would race
# on the same outputs; the second one waits and then finds everything built.
if command -v flock >/dev/null; then
	exec 9>"$stamp_dir/.lock"
	if ! flock -n 9; then
		log "another build-backends run holds $stamp_dir/.lock; waiting"
		flock 9
	fi
fi

# Every go command runs from this scratch directory, outside any module, so
# that nothing can touch the repo's own go.mod/go.sum.
work=$(mktemp -d "${TMPDIR:-/tmp}/sleuth-backends.XXXXXX")
current="" # "name version" of the build in progress, for the failure message
started=0
on_exit() {
	local rc=$?
	if ((rc != 0)) && [[ -n $current ]]; then
		log "FAILED $current after $((SECONDS - started))s"
	fi
	rm -rf "$work"
}
trap on_exit EXIT
cd "$work"

# --- Recipes ------------------------------------------------------------------
# Each recipe writes the binary to $1 (a path in the scratch dir); the caller
# moves it into bin/ only on success, so an interrupted build never leaves a
# half-written binary behind a valid stamp.

# module_dir MODULE@VERSION: download the module and print its cache dir.
module_dir() {
	go mod download -json "$1" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p'
}

# go install into a private GOBIN: works for modules without replace
# directives and needs no go.mod of ours at all.
go_install() { # out pkg version ldflags
	local out=$1 pkg=$2 version=$3 ldflags=$4 gobin
	gobin=$(mktemp -d "$work/gobin.XXXXXX")
	GOBIN=$gobin go install -ldflags "$ldflags" "$pkg@$version"
	mv "$gobin/${pkg##*/}" "$out"
}

# VictoriaMetrics prints lib/buildinfo.Version for -version, which is empty
# unless set at link time.
vm_ldflags() { # name version
	echo "$STRIP -X github.com/VictoriaMetrics/VictoriaMetrics/lib/buildinfo.Version=$1-$2"
}

build_victoria-metrics() {
	go_install "$1" github.com/VictoriaMetrics/VictoriaMetrics/app/victoria-metrics \
		"$2" "$(vm_ldflags victoria-metrics "$2")"
}

build_vmalert() {
	go_install "$1" github.com/VictoriaMetrics/VictoriaMetrics/app/vmalert \
		"$2" "$(vm_ldflags vmalert "$2")"
}

# vmalert-tool runs the unit tests of the alert rules (deploy/rules/tests)
# with vmalert's own rule engine and an embedded VictoriaMetrics storage.
build_vmalert-tool() {
	go_install "$1" github.com/VictoriaMetrics/VictoriaMetrics/app/vmalert-tool \
		"$2" "$(vm_ldflags vmalert-tool "$2")"
}

build_victoria-logs() {
	# VictoriaLogs reuses VictoriaMetrics' lib/buildinfo.
	go_install "$1" github.com/VictoriaMetrics/VictoriaLogs/app/victoria-logs \
		"$2" "$(vm_ldflags victoria-logs "$2")"
}

# brotli_stored FILE: write FILE.br, FILE as a single uncompressed brotli
# meta-block (RFC 7932 sec. 9.2), so no brotli encoder is needed.
brotli_stored() {
	local f=$1 n l
	n=$(wc -c <"$f")
	((n >= 1 && n <= 65520)) || { log "brotli_stored: $f must be 1..65520 bytes"; return 1; }
	l=$((n - 1))
	# shellcheck disable=SC2059 # the format is the octal escape of one byte
	byte() { printf "\\$(printf %03o "$1")"; }
	{
		# Bits from the lowest: WBITS=16 (0), ISLAST=0, MNIBBLES=4 (00),
		# MLEN-1 in 16 bits, ISUNCOMPRESSED=1, then zero padding to a byte.
		byte $(((l & 0xF) << 4))
		byte $(((l >> 4) & 0xFF))
		byte $((((l >> 12) & 0xF) | 0x10))
		cat "$f"
		printf '\003' # ISLAST=1, ISLASTEMPTY=1
	} >"$f.br"
}

build_alertmanager() {
	# `go install` fails: ui/web.go has //go:embed app/dist, and the built web
	# UI is not in the module zip. Build a writable copy of the module with a
	# placeholder page under the two roots web.go serves (app/dist/elm for /,
	# app/dist/mantine for /ui/). Only the web UI is fake; API, routing and
	# webhook notifications are the real ones.
	#
	# web.go serves .html only pre-compressed (index.html.br or .gz, as
	# upstream's vite build emits them) and answers 404 rather than fall back
	# to the plain file, so the placeholder is written in all three forms.
	local out=$1 version=$2 src ui page
	src=$(module_dir "github.com/prometheus/alertmanager@$version")
	[[ -d $src ]] || { log "could not download github.com/prometheus/alertmanager@$version"; return 1; }
	cp -R "$src" "$work/alertmanager"
	chmod -R u+w "$work/alertmanager"
	for ui in elm mantine; do
		page=$work/alertmanager/ui/app/dist/$ui/index.html
		mkdir -p "${page%/*}"
		printf '<!doctype html><title>Alertmanager</title><p>Alertmanager %s: web UI not bundled in this build (sleuth scripts/build-backends.sh); the API is at <a href="/api/v2/status">/api/v2/</a>.</p>\n' \
			"$version" >"$page"
		gzip -9nc "$page" >"$page.gz"
		brotli_stored "$page"
	done
	local v=github.com/prometheus/common/version
	(cd "$work/alertmanager" && go build -o "$out" \
		-ldflags "$STRIP -X $v.Version=${version#v} -X $v.Branch=HEAD -X $v.BuildUser=sleuth-build-backends" \
		./cmd/alertmanager)
}

# The version of a module in tools/kube's build list.
kube_module_version() {
	(cd "$kube_module" && go list -m -f '{{if .Replace}}{{.Replace.Version}}{{else}}{{.Version}}{{end}}' "$1")
}

build_kube-apiserver() {
	# Built from the helper module tools/kube: `go install ...@version` is
	# refused because kubernetes' go.mod has replace directives. Without the
	# version ldflags the server reports v0.0.0-master, which breaks anything
	# that checks kubeVersion (Helm charts, discovery-based clients).
	local out=$1 version=$2 minor v=k8s.io/component-base/version
	minor=${version#v1.}
	minor=${minor%%.*}
	(cd "$kube_module" && go build -mod=readonly -o "$out" \
		-ldflags "$STRIP -X $v.gitVersion=$version -X $v.gitMajor=1 -X $v.gitMinor=$minor -X $v.gitTreeState=clean" \
		k8s.io/kubernetes/cmd/kube-apiserver)
}

build_etcd() {
	# The root package of go.etcd.io/etcd/server/v3 is etcd's main; building it
	# from tools/kube gives exactly the etcd version kubernetes requires.
	(cd "$kube_module" && go build -mod=readonly -o "$1" -ldflags "$STRIP" go.etcd.io/etcd/server/v3)
}

build_helm() {
	# Without the version ldflags (upstream's Makefile sets them) `helm version`
	# says v3.22 and `helm template` assumes Kubernetes v1.20.0, which fails any
	# chart with a kubeVersion above it; 1.37 follows helm's client-go v0.37.
	local h=helm.sh/helm/v3
	go_install "$1" $h/cmd/helm "$2" \
		"$STRIP -X $h/internal/version.version=$2 -X $h/internal/version.gitTreeState=clean -X $h/pkg/chartutil.k8sVersionMajor=1 -X $h/pkg/chartutil.k8sVersionMinor=37 -X $h/pkg/lint/rules.k8sVersionMajor=1 -X $h/pkg/lint/rules.k8sVersionMinor=37"
}

pinned_version() {
	case $1 in
	alertmanager) echo "$ALERTMANAGER_VERSION" ;;
	victoria-metrics | vmalert | vmalert-tool) echo "$VICTORIAMETRICS_VERSION" ;;
	victoria-logs) echo "$VICTORIALOGS_VERSION" ;;
	helm) echo "$HELM_VERSION" ;;
	kube-apiserver) kube_module_version k8s.io/kubernetes ;;
	etcd) kube_module_version go.etcd.io/etcd/server/v3 ;;
	esac
}

# --- Main ---------------------------------------------------------------------
for name in "${wanted[@]}"; do
	version=$(pinned_version "$name")
	[[ -n $version ]] || { log "no pinned version for $name"; exit 1; }
	stamp=$stamp_dir/$name
	if [[ -x $bin_dir/$name && -f $stamp && $(<"$stamp") == "$version" ]]; then
		log "$name $version already built, skipping"
		continue
	fi

	log "building $name $version (cold build ${COLD_TIME[$name]})"
	current="$name $version"
	started=$SECONDS
	rm -f "$stamp"
	"build_$name" "$work/$name.out" "$version"
	mv -f "$work/$name.out" "$bin_dir/$name"
	echo "$version" >"$stamp"
	log "built $name $version in $((SECONDS - started))s -> $bin_dir/$name"
	current=""
done
