"""Reference for the DAVIS frame transform (Debian python3-opencv): the official `read_frame`
resize. Usage: cv_reference.py OUTDIR IMAGE [IMAGE ...]; writes <i>.input.bin (decoded RGB),
<i>.resized.bin (cv2.resize INTER_LINEAR to the official size, RGB) and index.json."""
import json
import os
import sys

import cv2


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    index = []
    for i, path in enumerate(sys.argv[2:]):
        img = cv2.imread(path)  # BGR, as read_frame
        h, w = img.shape[:2]
        if h > w:
            tw, th = 480, int((480 * h / w) // 64 * 64)
        else:
            th, tw = 480, int((480 * w / h) // 64 * 64)
        small = cv2.resize(img, (tw, th))
        for name, arr in (("input", img), ("resized", small)):
            with open(os.path.join(out, f"{i}.{name}.bin"), "wb") as f:
                f.write(cv2.cvtColor(arr, cv2.COLOR_BGR2RGB).tobytes())
        index.append({"file": path, "input": [w, h], "resized": [tw, th], "cv2": cv2.__version__})
    with open(os.path.join(out, "index.json"), "w") as f:
        json.dump(index, f)


if __name__ == "__main__":
    main()
