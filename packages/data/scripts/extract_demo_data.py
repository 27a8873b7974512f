"""Builds packages/data/demo/: a small set of real, permissively licensed photos for the demo
preset and tests, taken from Debian's python3-skimage sample data (public domain / CC0 / no known
copyright restrictions, as scikit-image documents them). Re-encoded as JPEG (quality 90, longest
side <= 512) to keep the repository small; ATTRIBUTION.md lists source and licence per file.

    apt-get install python3-skimage && /usr/bin/python3 packages/data/scripts/extract_demo_data.py
"""
import os
import re

from PIL import Image
import skimage.data as skd

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "demo")
DATA = os.path.dirname(skd.__file__)
IMAGES = {
    "astronaut": "astronaut.png",
    "coffee": "coffee.png",
    "chelsea": "chelsea.png",
    "rocket": "rocket.jpg",
    "hubble_deep_field": "hubble_deep_field.jpg",
    "retina": "retina.jpg",
    "immunohistochemistry": "ihc.png",
    "camera": "camera.png",
    "coins": "coins.png",
    "brick": "brick.png",
    "grass": "grass.png",
    "gravel": "gravel.png",
}


def licence(name):
    src = open(os.path.join(DATA, "_fetchers.py")).read()
    m = re.search(r"def " + name + r"\(.*?\):\s*\"\"\"(.*?)\"\"\"", src, re.S)
    doc = " ".join(m.group(1).split()) if m else ""
    # Sentences end at ". " (URLs keep their dots); keep those that state the licence.
    doc = re.sub(r"Returns -+ .*?(?=Notes -+|References -+|$)", "", doc)  # numpydoc return section
    sentences = re.split(r"(?<=\.)\s+|\s+(?=Notes -+)", doc)
    notes = [re.sub(r"^Notes -+\s*", "", x) for x in sentences if re.search(r"(?i)no known copyright|public domain|cc0|creative commons", x)]
    return " ".join(dict.fromkeys(notes)) or "see scikit-image's data documentation"


def main():
    os.makedirs(OUT, exist_ok=True)
    lines = [
        "# Demo images",
        "",
        "Extracted from Debian's `python3-skimage` sample data by `scripts/extract_demo_data.py`",
        "(re-encoded as JPEG, quality 90, longest side at most 512 px). Licences as documented by",
        "scikit-image (`skimage/data/_fetchers.py`):",
        "",
        "| file | source | licence |",
        "|---|---|---|",
    ]
    for name, fname in IMAGES.items():
        path = os.path.join(DATA, fname)
        if not os.path.exists(path):
            print("skip (not in this skimage build):", fname)
            continue
        im = Image.open(path).convert("RGB")
        scale = 512 / max(im.size)
        if scale < 1:
            im = im.resize((round(im.width * scale), round(im.height * scale)), Image.BICUBIC)
        out = os.path.join(OUT, name + ".jpg")
        im.save(out, quality=90)
        lines.append(f"| `{name}.jpg` | scikit-image `skimage.data.{name}()` ({fname}) | {licence(name)} |")
    with open(os.path.join(OUT, "ATTRIBUTION.md"), "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
