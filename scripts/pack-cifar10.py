"""Repack an ImageFolder JPEG copy of CIFAR-10 losslessly into the compact `cifar10-jpeg.pack`
(≈20 MB instead of the 89 MB tar), e.g. to carry it to a GPU machine.
Usage: python scripts/pack-cifar10.py SRC (folder or cifar10-jpeg.tar) DEST_DIR"""
import sys
from pathlib import Path

from starconn.data import CIFAR10_JPEG_PACK
from starconn.jpegs import pack_jpeg

src, dest = Path(sys.argv[1]), Path(sys.argv[2])
dest.mkdir(parents=True, exist_ok=True)
print(pack_jpeg(src, dest / CIFAR10_JPEG_PACK))
