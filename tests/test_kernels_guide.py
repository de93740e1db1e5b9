"""docs/kernels.md, the study guide to csrc/, is checked against the code, so it cannot drift.

- Every citation `path:line` names what it points at, written `` `name` (path:line) `` or
  ``(name, path:line)``, and the cited line holds that name as a whole word (for a dotted name,
  its last part: `Plan.forward` -> ``forward``). A path is relative to the repository, or to
  csrc/ for a bare C file name. Lines move when code changes; a name that no longer stands at
  its line fails here, naming the lines where it does stand now
  (`python tests/test_kernels_guide.py --fix` moves each stale citation to the nearest line
  holding its name; read the diff).
- Every identifier the guide quotes in backticks (one with an underscore, `gemm_pack_a_t`, or a
  wildcard, `ukernel_*_ind`) occurs in the sources, and every file it quotes exists.
- The file table at the top lists every file in csrc/.
"""
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "docs" / "kernels.md"
SOURCE_EXT = (".c", ".h", ".py", ".pyx", ".pxi")

# `name` (path:line)   or   (name, path:line)   or   (`name`, path:line)
NAMED = re.compile(r"`(?P<a>[A-Za-z_][\w.]*)`\s*\(\s*(?P<pa>[\w./-]+):(?P<la>\d+)\s*\)"
                   r"|\(\s*`?(?P<b>[A-Za-z_][\w.]*)`?,\s*(?P<pb>[\w./-]+):(?P<lb>\d+)\s*\)")
ANY_CITE = re.compile(r"[\w./-]+\.(?:c|h|py|pyx|pxi):\d+")
TICKED = re.compile(r"`([^`\n]+)`")
IDENT = re.compile(r"^[A-Za-z_][\w*<>]*(?:\.[A-Za-z_][\w*<>]*)*(?:\(\))?$")
FILE = re.compile(r"^[\w*./-]+\.(?:c|h|py|pyx|pxi|md|txt)$")


def _resolve(path):
    for p in (ROOT / path, ROOT / "csrc" / path):
        if p.is_file():
            return p
    return None


def _citations(text):
    """(name, path, line number, offset in the guide) for each citation."""
    return [(m["a"] or m["b"], m["pa"] or m["pb"], int(m["la"] or m["lb"]), m.start())
            for m in NAMED.finditer(text)]


def _lines_with(path, name):
    word = re.compile(r"\b%s\b" % re.escape(name.split(".")[-1]))
    lines = path.read_text(encoding="utf-8").splitlines()
    return [i + 1 for i, ln in enumerate(lines) if word.search(ln)], lines


def _where(text, offset):
    return f"docs/kernels.md:{text.count(chr(10), 0, offset) + 1}"


def test_every_citation_names_what_it_points_at():
    text = GUIDE.read_text(encoding="utf-8")
    spans = [m.span() for m in NAMED.finditer(text)]
    bad = []
    for m in ANY_CITE.finditer(text):
        if not any(a <= m.start() < b for a, b in spans):
            bad.append(f"{_where(text, m.start())}: {m.group()} has no name "
                       "(write `name` (path:line) or (name, path:line))")
    for name, path, line, off in _citations(text):
        p = _resolve(path)
        if p is None:
            bad.append(f"{_where(text, off)}: {path} is not a file")
            continue
        found, lines = _lines_with(p, name)
        if not (1 <= line <= len(lines)) or line not in found:
            bad.append(f"{_where(text, off)}: `{name}` is not on {path}:{line}; "
                       f"it is on lines {found[:8]}")
    assert not bad, "\n".join(bad) + "\n(`python tests/test_kernels_guide.py --fix` moves a stale " \
        "citation to the nearest line holding its name: check its diff)"


def _sources():
    files = [p for p in (ROOT / "csrc").iterdir() if p.is_file()]
    for d in ("pyconv", "tests", "bench", ".ci"):
        files += [p for p in (ROOT / d).rglob("*") if p.is_file() and p.suffix in
                  SOURCE_EXT + ("",)]
    files += [ROOT / "CMakeLists.txt", ROOT / "pyproject.toml"]
    return "\n".join(p.read_text(encoding="utf-8", errors="replace") for p in files
                     if p.is_file() and p.resolve() != Path(__file__).resolve())


def _pattern(token):
    """A quoted identifier as a regex: * any word characters, <isa> one word; `_n`, a leading
    underscore, is a suffix of a longer name."""
    if token.startswith("_") and not token.startswith("__"):
        token = "*" + token
    parts = re.split(r"(\*|<\w+>)", token)
    return "".join(r"\w*" if p == "*" else r"\w+" if p.startswith("<") else re.escape(p)
                   for p in parts)


def test_every_quoted_name_and_file_exists():
    text = GUIDE.read_text(encoding="utf-8")
    src = _sources()
    missing = []
    for m in TICKED.finditer(text):
        tok = m.group(1).strip()
        if FILE.match(tok):
            hits = [p for d in (ROOT, ROOT / "csrc", ROOT / "pyconv", ROOT / "tests")
                    for p in d.glob(tok)]
            if not hits:
                missing.append(f"{_where(text, m.start())}: file {tok}")
            continue
        if not IDENT.match(tok) or ("_" not in tok and "*" not in tok):
            continue
        name = tok[:-2] if tok.endswith("()") else tok
        last = name.split(".")[-1]   # pyconv._geometry.Window: the module path is a file
        if not re.search(r"(?<!\w)%s(?!\w)" % _pattern(last), src):
            missing.append(f"{_where(text, m.start())}: `{tok}`")
    assert not missing, "quoted in docs/kernels.md but found nowhere in the sources:\n" + \
        "\n".join(missing)


def test_file_table_lists_every_csrc_file():
    text = GUIDE.read_text(encoding="utf-8")
    table = text.split("\n## ", 1)[0]
    listed = set(re.findall(r"`([\w.]+\.[ch])`", "\n".join(
        ln for ln in table.splitlines() if ln.startswith("|"))))
    files = {p.name for p in (ROOT / "csrc").iterdir() if p.suffix in (".c", ".h")}
    assert not files - listed, f"csrc/ files missing from the guide's table: {sorted(files - listed)}"
    assert not listed - files, f"the guide's table lists files not in csrc/: {sorted(listed - files)}"


def fix():
    """Rewrite each stale citation: to the nearest line that holds its name, or for a new one
    (written with line 0) to the name's only line or only definition. Check the result."""
    text = GUIDE.read_text(encoding="utf-8")
    out, last, left = [], 0, []
    for m in NAMED.finditer(text):
        name, path = m["a"] or m["b"], m["pa"] or m["pb"]
        key = "la" if m["a"] else "lb"
        p = _resolve(path)
        found, lines = _lines_with(p, name) if p else ([], [])
        line = int(m[key])
        if p and line not in found:
            word = re.escape(name.split(".")[-1])
            # a definition: def/cdef/class in Python and Cython, a line opening a C function
            define = r"^\s*c?p?def\b[^(=]*\b%s\s*\(|^\s*class\s+%s\b" % (word, word) \
                if p.suffix in (".py", ".pyx", ".pxi") else r"^[A-Za-z_].*\b%s\s*\(" % word
            defs = [i for i in found if re.search(define, lines[i - 1])]
            # a cited line that moved: the nearest line holding the name (code shifts by a few
            # lines); a new citation (line 0): the name's only line, or its only definition
            near = sorted(found, key=lambda i: abs(i - line))
            pick = near[:1] if line else found if len(found) == 1 else defs if len(defs) == 1 else []
            if pick:
                out.append(text[last:m.start(key)] + str(pick[0]))
                last = m.end(key)
            else:
                left.append(f"{_where(text, m.start())}: `{name}` {path}:{line} -> {found[:8]}")
    GUIDE.write_text("".join(out) + text[last:], encoding="utf-8")
    print("\n".join(left) or "every citation points at its name")


if __name__ == "__main__":
    if sys.argv[1:] == ["--fix"]:
        fix()
