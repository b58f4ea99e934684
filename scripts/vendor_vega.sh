#!/usr/bin/env bash
# Refresh the vendored Vega, Vega-Lite and vega-embed builds in dvc_plots/vendor/, which let
# `dvc plots show` draw its charts with no network. Needs npm; run from anywhere.
set -euo pipefail

VERSIONS=(vega-lite@5.23.0 vega@5.33.1 vega-embed@6.29.0)  # vega-lite first: vega reuses its LICENSE
out="$(cd "$(dirname "$0")/.." && pwd)/dvc_plots/vendor"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

: > "$out/VERSIONS"
for spec in "${VERSIONS[@]}"; do
    name=${spec%@*}
    (cd "$work" && npm pack --silent "$spec" > /dev/null)
    mkdir "$work/$name"
    tar xzf "$work/$name-${spec#*@}.tgz" -C "$work/$name"
    cp "$work/$name/package/build/$name.min.js" "$out/$name.min.js"
    # The vega package ships no LICENSE file; its license is the same BSD-3-Clause text, from
    # the same authors, as vega-lite's (see "license" in its package.json).
    license="$work/$name/package/LICENSE"
    [ -f "$license" ] || license="$work/vega-lite/package/LICENSE"
    cp "$license" "$out/LICENSE-$name.txt"
    echo "$spec $(grep -o '"license": *"[^"]*"' "$work/$name/package/package.json")" >> "$out/VERSIONS"
done
cat "$out/VERSIONS"
