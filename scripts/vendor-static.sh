#!/usr/bin/env bash
# Refresh the JavaScript that buttress serves itself, so the product works without a CDN or
# network access. Each package is pinned; the tarball comes from the npm registry through
# `npm pack`, which checks it against the registry's integrity hash, and the copied file is
# checked against the digest recorded here so an upgrade is always a deliberate edit.
set -euo pipefail

HTMX_VERSION="2.0.11"
HTMX_SHA256="d6fdc75f204e6bdefa99b69bf1e6d4ac69b8a364f77929f45c13476b4000f717"

root="$(cd "$(dirname "$0")/.." && pwd)"
dest="$root/buttress/web/static/vendor"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

command -v npm >/dev/null || { echo "vendor-static: npm is required" >&2; exit 1; }

(cd "$work" && npm pack --silent "htmx.org@${HTMX_VERSION}" >/dev/null)
tar -xzf "$work/htmx.org-${HTMX_VERSION}.tgz" -C "$work"
actual="$(sha256sum "$work/package/dist/htmx.min.js" | cut -d' ' -f1)"
if [[ "$actual" != "$HTMX_SHA256" ]]; then
    echo "vendor-static: htmx.min.js ${HTMX_VERSION} has sha256 $actual, expected $HTMX_SHA256" >&2
    exit 1
fi
mkdir -p "$dest"
install -m 0644 "$work/package/dist/htmx.min.js" "$dest/htmx.min.js"
install -m 0644 "$work/package/LICENSE" "$dest/htmx.LICENSE"
echo "vendor-static: htmx ${HTMX_VERSION} -> ${dest#"$root"/}/htmx.min.js"
