#!/usr/bin/env bash
# Installs every client and reference server the e2e suite drives, at pinned
# versions, reusing what is already installed at the right version so that a
# second run (and CI on a machine that has run it before) takes seconds.
#
#   Debian packages:  rclone, s3cmd, docker-compose, chromium (headless, for the
#                     browser CORS test)  (apt-get update only if one is missing)
#   Go binaries:      mc, versitygw                  (into .tools/bin via GOBIN)
#   npm:              @aws-sdk/client-s3, @aws-sdk/lib-storage, @aws-sdk/s3-presigned-post
#                     (.tools/node, npm ci from the lock file)
#   preinstalled:     aws cli v1 and boto3 (pyenv; PyPI is not reachable here, so only checked),
#                     curl (it sends the form upload that `mc share upload` prints)
#
# With CI=true anything missing or failing is an error (exit 1); otherwise
# the script warns and the e2e tests that need the tool skip.
set -euo pipefail
trap 'echo "install-tools: failed at line $LINENO: $BASH_COMMAND" >&2' ERR

root="$(cd "$(dirname "$0")/.." && pwd)"
bin="$root/.tools/bin"
node_dir="$root/.tools/node"
mkdir -p "$bin"

# --- pinned versions ---------------------------------------------------------
# Debian 12 (bookworm) package versions, as seen when this was written. If the
# archive moves on (a point release), the candidate is taken with a warning.
APT_PINS=(
	"rclone=1.60.1+dfsg-2+b5"
	"s3cmd=2.3.0-1"
	"docker-compose=1.29.2-3"
	"chromium=156.0.8078.114-1~deb12u1"
)
# mc: the Go module proxy here refuses mc's RELEASE.* tag names; this is the
# commit it serves as latest (2025-03-13, the RELEASE.2025-03-12T17-29-24Z
# line), which builds with go1.26.
MC_MODULE="github.com/minio/mc"
MC_VERSION="v0.0.0-20250313080218-cf909e1063a9"
VERSITYGW_MODULE="github.com/versity/versitygw"
VERSITYGW_PKG="github.com/versity/versitygw/cmd/versitygw"
VERSITYGW_VERSION="v1.8.0"
# npm versions are in .tools/node/package.json and package-lock.json.

failures=()
fail() {
	echo "install-tools: $*" >&2
	failures+=("$*")
}
log() { echo "install-tools: $*"; }

# --- Debian packages ---------------------------------------------------------
apt_missing=()
for pin in "${APT_PINS[@]}"; do
	pkg="${pin%%=*}" want="${pin#*=}"
	have="$(dpkg-query -W -f='${Status} ${Version}' "$pkg" 2>/dev/null || true)"
	if [[ "$have" == "install ok installed $want" ]]; then
		log "$pkg $want: installed"
	else
		apt_missing+=("$pin")
	fi
done
if ((${#apt_missing[@]})); then
	if [[ $(id -u) -ne 0 ]] && ! command -v sudo >/dev/null; then
		fail "need root to apt-get install ${apt_missing[*]}"
	else
		SUDO=""
		[[ $(id -u) -ne 0 ]] && SUDO=sudo
		log "apt-get update (missing: ${apt_missing[*]})"
		# Wait for another apt (the machine's own, or an earlier run stopped midway)
		# rather than failing on its lock at once.
		$SUDO apt-get -o DPkg::Lock::Timeout=300 update -qq || fail "apt-get update failed"
		install=()
		for pin in "${apt_missing[@]}"; do
			pkg="${pin%%=*}" want="${pin#*=}"
			if apt-cache madison "$pkg" 2>/dev/null | awk -F'|' '{gsub(/ /,"",$2); print $2}' | grep -qxF "$want"; then
				install+=("$pin")
			else
				echo "install-tools: warning: $pkg $want is no longer in the archive; taking the candidate" >&2
				install+=("$pkg")
			fi
		done
		# --no-install-recommends: docker-compose recommends docker.io, which
		# would replace the machine's own docker.
		DEBIAN_FRONTEND=noninteractive $SUDO apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "${install[@]}" >/dev/null ||
			fail "apt-get install ${install[*]} failed"
	fi
fi

# --- Go binaries into .tools/bin -----------------------------------------------
# go version -m reads the module version compiled into a binary: reinstall
# only when it differs from the pin.
go_install() { # name module package version
	local name=$1 module=$2 pkg=$3 version=$4 have
	have="$(go version -m "$bin/$name" 2>/dev/null | awk -v m="$module" '$1 == "mod" && $2 == m {print $3}' || true)"
	if [[ "$have" == "$version" ]]; then
		log "$name $version: installed"
		return
	fi
	log "go install $pkg@$version (have: ${have:-none}); this takes a few minutes on 2 cores"
	GOBIN="$bin" GOFLAGS="${GOFLAGS:-} -buildvcs=false" go install "$pkg@$version" || fail "go install $pkg@$version failed"
}
if command -v go >/dev/null; then
	go_install mc "$MC_MODULE" "$MC_MODULE" "$MC_VERSION"
	go_install versitygw "$VERSITYGW_MODULE" "$VERSITYGW_PKG" "$VERSITYGW_VERSION"
else
	fail "go is not on PATH"
fi

# --- JavaScript SDK v3 into .tools/node -------------------------------------------
# npm ci installs exactly the lock file; a stamp with the lock's hash lets a
# second run skip it.
if command -v node >/dev/null && command -v npm >/dev/null; then
	stamp="$node_dir/node_modules/.e2e-lock-sha256"
	want="$(sha256sum "$node_dir/package-lock.json" | cut -d' ' -f1)"
	if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
		log "@aws-sdk/client-s3, @aws-sdk/lib-storage: installed ($(cd "$node_dir" && node -p 'require("@aws-sdk/client-s3/package.json").version'))"
	else
		log "npm ci in .tools/node"
		if (cd "$node_dir" && npm ci --no-audit --no-fund --loglevel=error); then
			echo "$want" >"$stamp"
		else
			fail "npm ci in .tools/node failed"
		fi
	fi
else
	fail "node and npm are required for the JavaScript SDK tests"
fi

# --- preinstalled Python clients ---------------------------------------------------
if v="$(aws --version 2>&1)"; then
	log "aws cli: $v"
	[[ "$v" == aws-cli/1.* ]] || echo "install-tools: warning: expected aws cli v1, found: $v" >&2
else
	fail "aws cli is not installed (it comes with the machine's pyenv Python; PyPI is unreachable)"
fi
if v="$(python3 -c 'import boto3, botocore; print(boto3.__version__, botocore.__version__)' 2>&1)"; then
	log "boto3/botocore: $v"
else
	fail "python3 cannot import boto3: $v"
fi

# --- summary ---------------------------------------------------------------------
for t in rclone s3cmd docker-compose chromium; do
	command -v "$t" >/dev/null || fail "$t is not on PATH after installing"
done
command -v curl >/dev/null || fail "curl is not installed (apt-get install curl)"

if ((${#failures[@]})); then
	if [[ "${CI:-}" == "true" ]]; then
		echo "install-tools: ${#failures[@]} problem(s); CI=true, so this is fatal" >&2
		exit 1
	fi
	echo "install-tools: ${#failures[@]} problem(s); the e2e tests that need them will skip" >&2
fi
exit 0
