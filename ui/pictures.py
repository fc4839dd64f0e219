"""The Train page's "your own pictures": where they come from (uploads, a zip, a folder on
the server's machine), how they are framed, and what was found, with a grid of them as the
model will see them, before anything is trained."""

from __future__ import annotations

import streamlit as st

from ganmc.core.config import FRAMING_ABOUT, FRAMING_WORDS, FRAMINGS
from ganmc.core.errors import GanmcError
from ganmc.images import folders
from ganmc.images.preprocess import IMAGE_SUFFIXES
from ui import session

UPLOAD, FOLDER = "upload", "folder"
FROM_WORDS = {UPLOAD: "Upload a zip or pictures", FOLDER: "A folder on the server's machine"}
LAYOUT_HELP = ("normal/ holds the normal pictures, directly or in class folders "
               "(normal/CLASS/...: a threshold for each class); an optional anomaly/ holds "
               "pictures that are not normal, used only to measure the model. Without a "
               "normal/ folder every picture is normal. PNG, JPEG, BMP, WebP of any size, grey "
               "or colour.")


def choose() -> folders.Found | None:
    """The pictures' source and framing widgets, and what they hold (read once per source,
    framing and files; None while there is nothing to read or it cannot be read, which is
    said in the page)."""
    kept = session.kept
    where = kept(st.radio, "train_from", "Where are the pictures?", UPLOAD,
                 options=list(FROM_WORDS), format_func=FROM_WORDS.get, horizontal=True,
                 help=LAYOUT_HELP)
    framing = kept(st.radio, "train_framing", "Framing", FRAMINGS[0], options=list(FRAMINGS),
                   format_func=FRAMING_WORDS.get, horizontal=True,
                   captions=[FRAMING_ABOUT[f].split(": ", 1)[1] for f in FRAMINGS],
                   help="How each picture is put into the model's 28 x 28 grey frame. The "
                        "model keeps the framing and frames every picture it judges the "
                        "same way.")
    if where == UPLOAD:
        uploads = st.file_uploader(
            "A zip of your pictures, or the pictures themselves", accept_multiple_files=True,
            type=["zip", *(s.lstrip(".") for s in IMAGE_SUFFIXES)], key="train_uploads",
            help=LAYOUT_HELP + " Several pictures uploaded together are one class.") or []
        if not uploads:
            st.info("Upload a zip (with normal/ and, if you like, anomaly/ folders in it) or "
                    "several pictures.")
            return None
        limit_mb = st.get_option("server.maxUploadSize")
        big = [u.name for u in uploads if u.size > limit_mb * 2**20]
        if big:  # the browser enforces it too; check again here
            st.error(f"Over the {limit_mb} MB limit: {', '.join(big)}. For more pictures, "
                     f"give a folder on the server's machine.")
            return None
        key = (UPLOAD, framing, tuple((u.name, u.size, u.file_id) for u in uploads))
        return _read(key, lambda progress: folders.read_uploads(
            [(u.name, u.getvalue()) for u in uploads], framing, progress=progress))
    c1, c2 = st.columns([4, 1])
    path = kept(c1.text_input, "train_folder", "Folder (or .zip file) on the server's machine",
                "", placeholder="/data/my-pictures", help=LAYOUT_HELP)
    again = c2.button("Read again", key="train_read_again",
                      help="Read the folder afresh (after you changed its pictures).")
    if not path.strip():
        st.info("Type the path of a folder of your pictures (on the machine the dashboard "
                "runs on) and press Enter.")
        return None
    if again:
        st.session_state["train_read_nonce"] = st.session_state.get("train_read_nonce", 0) + 1
    key = (FOLDER, framing, path.strip(), st.session_state.get("train_read_nonce", 0))
    return _read(key, lambda progress: folders.read_source(path.strip(), framing,
                                                           progress=progress))


def _read(key, build) -> folders.Found | None:
    """What ``build`` reads, once per ``key`` (a rerun of the page reads nothing again)."""
    def read():
        bar = st.progress(0.0, text="Reading the pictures…")
        try:
            return build(lambda i, n: bar.progress(
                i / max(n, 1), text=f"Reading the pictures… {i:,} of {n:,}")
                if i % 50 == 0 or i == n else None)
        except GanmcError as exc:
            return exc
        finally:
            bar.empty()

    found = session.reuse("train_found", key, read)
    if isinstance(found, GanmcError):
        st.error(f"The pictures could not be read: {found}")
        return None
    return found


def _plain(text: str) -> str:
    """File names as they are, not as Markdown (``my_file_1.png`` is not in italics)."""
    for c in "\\`*_[]<>#|~":
        text = text.replace(c, "\\" + c)
    return text


def show(found: folders.Found) -> None:
    """What was found, and the grid of the pictures as the model will see them."""
    lines = found.lines(limit=5)
    problems = found.problems()
    st.markdown("\n".join(f"- {_plain(line.strip())}" for line in lines[1:]
                          if not line.strip().startswith("cannot train")))
    for p in problems:
        st.error(f"Cannot train on these pictures: {p}.")
    grid, names = folders.preview(found, scale=2)
    caption = (" · ".join(name for _, name in names) + " (a row each)") if names else ""
    st.image(grid, caption=f"As the model will see them ({FRAMING_WORDS[found.framing]} "
                           f"framing, 28 x 28 grey)" + (f": {caption}" if caption else ""))
    if found.skipped or found.duplicates:
        with st.expander(f"Skipped files ({len(found.skipped):,}) and identical files left "
                         f"out ({len(found.duplicates):,})"):
            st.dataframe([{"file": n, "why": r} for n, r in found.skipped]
                         + [{"file": a, "why": f"the same file as {b}"}
                            for a, b in found.duplicates], hide_index=True,
                         key="train_skipped")
