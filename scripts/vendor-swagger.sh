#!/usr/bin/env bash
# Refresh the Swagger UI files behind /api/v1/docs. buttress serves them itself so the API
# documentation works on an air-gapped install. The tarball comes from the npm registry through
# `npm pack` (checked against the registry's integrity hash) and each copied file is checked
# against the digest recorded here, so an upgrade is always a deliberate edit.
set -euo pipefail

SWAGGER_VERSION="5.35.0"
declare -A SHA256=(
    [swagger-ui-bundle.js]="e6a898692f2d768e807c3ba4626068a69a2c5dd960dd6c76f3e4d3a3de180af2"
    [swagger-ui.css]="5ed08757e53da3e026d6cbecc61fe5d43585c9560b302d534ad56692519a273d"
    [LICENSE]="cfc7749b96f63bd31c3c42b5c471bf756814053e847c10f3eb003417bc523d30"
    [NOTICE]="0d20d1adef18aee3f40dd258172155521ce702ac445cb5f7b7d60ed32dad2fb2"
    [favicon-32x32.png]="3ed612f41e050ca5e7000cad6f1cbe7e7da39f65fca99c02e99e6591056e5837"
)

root="$(cd "$(dirname "$0")/.." && pwd)"
dest="$root/buttress/api/static/api/swagger-ui"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

command -v npm >/dev/null || { echo "vendor-swagger: npm is required" >&2; exit 1; }

(cd "$work" && npm pack --silent "swagger-ui-dist@${SWAGGER_VERSION}" >/dev/null)
tar -xzf "$work/swagger-ui-dist-${SWAGGER_VERSION}.tgz" -C "$work"
mkdir -p "$dest"
for name in "${!SHA256[@]}"; do
    actual="$(sha256sum "$work/package/$name" | cut -d' ' -f1)"
    if [[ "$actual" != "${SHA256[$name]}" ]]; then
        echo "vendor-swagger: $name ${SWAGGER_VERSION} has sha256 $actual, expected ${SHA256[$name]}" >&2
        exit 1
    fi
    install -m 0644 "$work/package/$name" "$dest/$name"
done
echo "swagger-ui-dist ${SWAGGER_VERSION}" > "$dest/VERSION"
echo "vendor-swagger: swagger-ui-dist ${SWAGGER_VERSION} -> ${dest#"$root"/}/"
