"""Builds packages/data/demo/: real, permissively licensed photos and video frames for the demo
preset and tests, from Debian packages:
- photos/: python3-skimage sample data (public domain / CC0 / no known copyright restrictions, as
  scikit-image documents them), JPEG quality 90, longest side <= 512;
- video/vtest/: every 4th of the first 48 frames of opencv-doc's samples/data/vtest.avi (Apache-2.0
  AND BSD-3-Clause per Debian's copyright file, `Files: *`), 384 px wide JPEG.
ATTRIBUTION.md lists source and licence per file.

    apt-get install python3-skimage python3-opencv opencv-doc
    /usr/bin/python3 packages/data/scripts/extract_demo_data.py
"""
import os
import re

from PIL import Image
import skimage.data as skd

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "demo")
OUT = os.path.join(ROOT, "photos")
VIDEO = "/usr/share/doc/opencv-doc/examples/data/vtest.avi"
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
        lines.append(f"| `photos/{name}.jpg` | scikit-image `skimage.data.{name}()` ({fname}) | {licence(name)} |")
    lines += video_frames()
    with open(os.path.join(ROOT, "ATTRIBUTION.md"), "w") as f:
        f.write("\n".join(lines) + "\n")


def video_frames():
    import cv2

    out = os.path.join(ROOT, "video", "vtest")
    os.makedirs(out, exist_ok=True)
    cap = cv2.VideoCapture(VIDEO)
    written = 0
    for i in range(48):
        ok, frame = cap.read()
        if not ok:
            break
        if i % 4:
            continue
        h, w = frame.shape[:2]
        small = cv2.resize(frame, (384, round(384 * h / w)), interpolation=cv2.INTER_AREA)
        Image.fromarray(cv2.cvtColor(small, cv2.COLOR_BGR2RGB)).save(os.path.join(out, f"{written:05d}.jpg"), quality=90)
        written += 1
    return [
        f"| `video/vtest/00000.jpg` … `{written - 1:05d}.jpg` | frames 0, 4, … of OpenCV `samples/data/vtest.avi` "
        "(Debian `opencv-doc`), resized to 384 px wide | Apache-2.0 AND BSD-3-Clause (OpenCV; Debian copyright file, `Files: *`) |"
    ]


if __name__ == "__main__":
    main()
