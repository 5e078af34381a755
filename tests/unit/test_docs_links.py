"""The docs stay followable from a clone: every link resolves inside the repository, none points outside it."""

import re
import subprocess
import tempfile
import unicodedata
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCS = [REPO / "README.md", REPO / "config" / "README.md", *sorted((REPO / "docs").glob("*.md"))]

# [text](target) in Markdown, and a bare repository path with an anchor anywhere (docs/x.md#y in a comment)
MD_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
PATH_ANCHOR = re.compile(r"(?<![\w/.-])((?:docs/|\.\./)?[\w./-]+\.md)#([\w-]+)")
# What a clone cannot follow, told by its form rather than by name: a relative path that climbs out of the
# repository, an absolute path into the folder the checkout sits in, a numbered section (§ 3.4, or "(notes 3.3-3.6)"
# after a parenthesis or comma) and a Markdown document cited with a section or anchor that the repository lacks
UP_PATH = re.compile(r"(?<![\w.])((?:\.\./)+[\w.-]+)")
SECTION = re.compile(r"§\s?\d|[(,;] ?[a-z]+ [1-9]\d?\.\d{1,2}(?:-[1-9]\d?(?:\.\d{1,2})?)?\)")
ABSOLUTE = re.compile(r"(?:^|(?<=[\s\"'`(=:]))(/[\w.-]+(?:/[\w.-]+)*)")
CITED_DOC = re.compile(r"(?<![\w/.-])([\w-]+\.md)\s*(?:§|#)")


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"`|\*\*|\[([^\]]*)\]\([^)]*\)", r"\1", heading.strip().lower())
    kept = "".join(c for c in text if c in " -_" or unicodedata.category(c)[0] in "LN")
    return kept.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    found: set[str] = set()
    in_code = False
    for line in path.read_text().splitlines():
        if line.startswith("```"):
            in_code = not in_code
        elif not in_code and (m := re.match(r"#{1,6}\s+(.*?)\s*#*$", line)):
            base, n = slug(m.group(1)), 0
            while (candidate := base if n == 0 else f"{base}-{n}") in found:
                n += 1
            found.add(candidate)
    return found


def outside_code(text: str) -> str:
    """The text without its fenced code blocks (shell examples are not links)."""
    return re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)


def check_target(source: Path, target: str) -> str | None:
    """Why ``target`` (a link written in ``source``) does not resolve, or None."""
    if re.match(r"[a-z][a-z+.-]*:", target):  # https:, mailto:: not a file of the repository
        return None
    file, _, anchor = target.partition("#")
    dest = (source.parent / file).resolve() if file else source
    if REPO not in dest.parents and dest != REPO:
        return f"{target} leaves the repository"
    if not dest.exists():
        return f"{target}: {dest.relative_to(REPO)} does not exist"
    if anchor and dest.suffix == ".md" and anchor not in anchors(dest):
        return f"{target}: no heading '#{anchor}' in {dest.relative_to(REPO)}"
    return None


def tracked_text_files() -> list[Path]:
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=False)
    if listed.returncode != 0:
        pytest.skip("not a git checkout: the tracked files are unknown")
    files = []
    for name in listed.stdout.decode().split("\0"):
        path = REPO / name
        if name and path.is_file() and not path.is_symlink():
            data = path.read_bytes()
            if b"\0" not in data[:8192]:
                files.append(path)
    return files


def test_slug_follows_github():
    assert slug("Results on the embedded default: sanity checks") == "results-on-the-embedded-default-sanity-checks"
    assert slug("Paper vs. ours tables") == "paper-vs-ours-tables"
    assert slug("`lmac explain`: explain your own audio") == "lmac-explain-explain-your-own-audio"
    assert slug("L-MAC FT") == "l-mac-ft"


def test_a_broken_link_is_reported(tmp_path):
    assert check_target(REPO / "README.md", "docs/no_such_page.md")
    assert check_target(REPO / "README.md", "docs/reproducibility_notes.md#no-such-heading")
    assert check_target(REPO / "README.md", "../outside.md")
    assert check_target(REPO / "README.md", "docs/reproducibility_notes.md#l-mac-ft") is None


def test_readme_is_short():
    assert len((REPO / "README.md").read_text().splitlines()) < 250


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(REPO)))
def test_every_markdown_link_resolves(doc):
    broken = [why for t in MD_LINK.findall(outside_code(doc.read_text())) if (why := check_target(doc, t))]
    assert not broken, f"{doc.relative_to(REPO)}: " + "; ".join(broken)


def test_every_path_with_an_anchor_resolves():
    """docs/x.md#y written in a comment, a docstring or a config file names an existing heading."""
    broken = []
    for path in tracked_text_files():
        if path.suffix == ".md" or path == Path(__file__).resolve():  # Markdown: test above; here: the examples
            continue
        for file, anchor in PATH_ANCHOR.findall(path.read_text(errors="replace")):
            if why := check_target(REPO / "README.md", f"{file}#{anchor}"):  # paths outside docs are repo-relative
                broken.append(f"{path.relative_to(REPO)}: {why}")
    assert not broken, "\n".join(broken)


def outside_references(path: Path, line: str) -> list[str]:
    """What ``line`` of ``path`` cites that a clone of the repository does not hold."""
    # tests feed escaping paths to the code on purpose (path traversal, a run folder outside): they are inputs
    ups = [] if path.is_relative_to(REPO / "tests") else UP_PATH.findall(line)
    found = [f"{up}: climbs out of the repository" for up in ups if climbs_out(path, up)]
    beside = checks_beside()
    for absolute in ABSOLUTE.findall(line):
        if beside and Path(absolute).is_relative_to(REPO.parent) and not Path(absolute).is_relative_to(REPO):
            found.append(f"{absolute}: an absolute path beside the repository")
    found += ["a numbered section of a document" for _ in SECTION.findall(line)]
    found += [f"{doc}: not a document of the repository" for doc in CITED_DOC.findall(line) if doc not in DOC_NAMES]
    return found


def checks_beside() -> bool:
    """Absolute paths beside the checkout are checked unless it sits in / or the temporary folder (a CI clone in
    /tmp: the tests name /tmp paths of their own)."""
    return REPO.parent not in (Path("/"), Path(tempfile.gettempdir()))


def climbs_out(path: Path, up: str) -> bool:
    """``up`` read from ``path``'s folder leaves the repository, or names nothing there and leaves it from the root."""
    here = (path.parent / up).resolve()
    if not here.is_relative_to(REPO):
        return True
    return not here.exists() and not (REPO / up).resolve().is_relative_to(REPO)


DOC_NAMES = {p.name for p in DOCS} | {"README.md"}


def test_no_file_points_outside_the_repository():
    """A clone has only the repository: no folder beside it and none of the notes lmac was written from."""
    this = Path(__file__).resolve()
    found = []
    for path in tracked_text_files():
        if path == this:  # its examples below
            continue
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            found += [f"{path.relative_to(REPO)}:{number}: {what}" for what in outside_references(path, line)]
    assert not found, "\n".join(found)


@pytest.mark.parametrize(
    "line",
    [
        "see ../../elsewhere/notes for the recipe",
        "the recipe's notes (../notes/front_end.md)",
        "as the notes say (recipe §5)",
        "the defaults (the recipe's file, notes 3.3-3.6)",
        "the front end (notes.md#front-end)",
    ],
)
def test_each_kind_of_outside_reference_is_caught(line):
    assert outside_references(REPO / "docs" / "x.md", line)


@pytest.mark.skipif(not checks_beside(), reason="the checkout sits in / or the temporary folder")
def test_an_absolute_path_beside_the_repository_is_caught():
    assert outside_references(REPO / "docs" / "x.md", f"read {Path(REPO.parent, 'notes', 'front_end.md')}")


def test_references_inside_the_repository_pass():
    assert not outside_references(REPO / "workflow" / "rules" / "x.smk", 'script: "../scripts/evaluate.py"')
    assert not outside_references(REPO / "docs" / "x.md", "[notes](reproducibility_notes.md#l2i) (Python 3.11)")
