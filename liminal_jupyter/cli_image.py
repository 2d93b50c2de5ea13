"""`liminal-nb image NOTEBOOK`: write, and build where a builder is on PATH, the image
the notebook's steps run in (engines/image.py says what goes in it and why).

Only argparse definitions run at import time.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

EXIT_OK, EXIT_FAILED, EXIT_INVALID = 0, 1, 2

_HELP = """\
Write a build folder (Dockerfile, requirements.txt) for an image that has what the
notebook's steps need: liminal-jupyter's in-step runtime at this exact version, kfp, and
the notebook's liminal.requirements. Then build it with docker, podman or buildah, the
first found on PATH (--builder chooses, --builder none only writes). The tag names the
content, so changing a requirement gives a new tag.

Steps whose image is a stock python one install all of this each time they start; with
this image they start at once: compile or submit with --image TAG."""

_EPILOG = """\
examples:
  liminal-nb image train.ipynb                     writes train-image/, builds liminal-train:<hash>
  liminal-nb image train.ipynb --tag registry.example/ml/train:1 --push
  liminal-nb image train.ipynb --builder none      only the Dockerfile (build it elsewhere)
  liminal-nb compile train.ipynb --image liminal-train:<hash>
"""


def add_image_command(commands: argparse._SubParsersAction) -> None:
    from liminal_jupyter.engines.image import BUILDERS

    image = commands.add_parser(
        "image", help="write and build a container image for the notebook's steps",
        description=_HELP, epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    image.add_argument("notebook", help="path of the .ipynb file")
    image.add_argument("--dir", metavar="FOLDER",
                       help="the build folder (default: NOTEBOOK_STEM-image/ next to the "
                       "notebook)")
    image.add_argument("--tag", metavar="NAME[:TAG]",
                       help="the image's name (default: liminal-<pipeline>:<content hash>)")
    image.add_argument("--base", metavar="IMAGE",
                       help="the image to start from (default: python:X.Y-slim of this "
                       "Python, so values pickled by one step load in the next)")
    image.add_argument("--index-url", metavar="URL", action="append", dest="index_urls",
                       help="package index to install from (repeat: the first replaces "
                       "pip's, the others are extra; default: liminal.index_url, else "
                       "$LIMINAL_INDEX_URL, else pip's default)")
    image.add_argument("--wheel", metavar="PATH", type=Path,
                       help="install liminal-jupyter from this wheel instead of the index "
                       "(for a version that is not published)")
    image.add_argument("--builder", choices=[*BUILDERS, "none"],
                       help="what builds it (default: the first of "
                       f"{', '.join(BUILDERS)} on PATH; none: only write the folder)")
    image.add_argument("--push", action="store_true",
                       help="push the built image (the tag must name your registry)")
    image.set_defaults(handler=_image)


def _image(args: argparse.Namespace) -> int:
    from liminal_jupyter.cli_support import load_valid_pipeline
    from liminal_jupyter.engines import image as images

    notebook = Path(args.notebook)
    pipeline = load_valid_pipeline(notebook)
    if pipeline is None:
        return EXIT_INVALID
    stem = notebook.name.removesuffix(".ipynb")
    folder = Path(args.dir) if args.dir else notebook.with_name(f"{stem}-image")
    try:
        written = images.write_build_folder(pipeline, folder, base=args.base, tag=args.tag,
                                            urls=args.index_urls, wheel=args.wheel)
    except images.ImageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INVALID
    for note in written.notes:
        print(f"note: {note}", file=sys.stderr)
    print(f"wrote {folder / 'Dockerfile'} and requirements.txt ({len(written.requirements)} "
          f"requirements, from {written.base})")
    use = f"liminal-nb compile {notebook} --image {written.tag}"
    builder = None if args.builder == "none" else images.find_builder(args.builder)
    if builder is None:
        command = " ".join(images.build_command("docker", written.tag, folder))
        why = ("" if args.builder == "none" else
               f"no {args.builder or ', '.join(images.BUILDERS)} on PATH; ")
        print(f"{why}build it with: {command}\nthen use it: {use}")
        return EXIT_OK
    print(f"building {written.tag} with {builder}...", flush=True)
    try:
        images.build(builder, written.tag, folder)
        if args.push:
            images.push(builder, written.tag)
    except images.ImageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    print(f"built {written.tag}" + (" and pushed it" if args.push else ""))
    print(f"use it: {use}" + ("" if args.push else
                              "  (push it where your cluster pulls images from first)"))
    return EXIT_OK
