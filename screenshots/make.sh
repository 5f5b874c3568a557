#!/bin/sh
# Remakes the README's screenshots from the real renderer (tests/screenshots.rs):
# the demo's world watched by the cluster source, drawn at 160x48, rasterised.
set -eu
cd "$(dirname "$0")/.."
fonts="fonts-dejavu-core fonts-ipafont-gothic"
if [ ! -f /usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf ] || [ ! -f /usr/share/fonts/opentype/ipafont-gothic/ipag.ttf ]; then
    if [ "$(id -u)" = 0 ]; then apt-get install -y $fonts; else sudo apt-get install -y $fonts; fi
fi
cargo test --locked --test screenshots -- --ignored --nocapture
