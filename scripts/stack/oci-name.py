"""Names the images of an OCI image layout the way containerd's import reads them.

`ctr images import` (without --base-name) keeps only images named by the io.containerd.image.name
annotation of index.json; the OCI annotation holds the tag, as the image-layout spec has it.
Used by scripts/stack/k8s.sh and scripts/k8s/images.sh.
    python3 oci-name.py LAYOUT/index.json NAME:TAG
"""
import json
import sys

path, name = sys.argv[1], sys.argv[2]
with open(path, encoding="utf-8") as f:
    index = json.load(f)
for manifest in index["manifests"]:
    manifest.setdefault("annotations", {})["io.containerd.image.name"] = name
    manifest["annotations"]["org.opencontainers.image.ref.name"] = name.rsplit(":", 1)[1]
with open(path, "w", encoding="utf-8") as f:
    json.dump(index, f)
