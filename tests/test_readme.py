"""Every command the README gives works as written, run the way a reader runs it.

CI runs this file after the README's own install (`pip install ".[test]" && pytest` in a clean
clone, see .ci/run), from the repository root: exactly the reader's situation, where the source
tree's `pyconv/` has no compiled extension and the installed package must be the one used.

Each command in README.md (its bash blocks and its inline `python ...`/`pip ...`/`pytest`
spans) is in exactly one table below: run here, run by another test (named), or an install /
test-runner command that CI itself runs (and that a test cannot run without replacing the
environment it runs in). A command added to the README without a place here fails
`test_every_readme_command_is_accounted_for`.
"""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
FASHION = "/usr/share/datasets/fashion-mnist"

# command as written -> where it runs from ("root" or "outside": the README says so)
RUN_HERE = {
    "python -m bench --quick": "root",
    'python -c "import pyconv; pyconv.show_config()"': "outside",
}

# command as written -> the test that runs it (the examples, with --quick, in a subprocess)
RUN_ELSEWHERE = {
    "python examples/fashion_mnist.py": "tests/test_examples.py::test_example_quick_writes_its_pictures",
    "python examples/fashion_mnist.py [--epochs 5] [--quick]": "tests/test_examples.py::test_example_quick_writes_its_pictures",
    "python examples/edge_filters.py [--quick]": "tests/test_examples.py::test_example_quick_writes_its_pictures",
    "python examples/pooling.py [--quick]": "tests/test_examples.py::test_example_quick_writes_its_pictures",
    "python examples/feature_maps.py [--quick] [--weights PATH]": "tests/test_examples.py::test_example_quick_writes_its_pictures",
}

# install and test-runner commands: CI runs the first two itself (.ci/run); the others change
# the environment this suite runs in
NOT_RUN_BY_A_TEST = {
    'pip install ".[test]" && pytest': "the install and test command: .ci/run runs it in a clean clone",
    "pytest": "the test command itself (.ci/run)",
    "python -m pytest": "the README's warning: what not to run after a non-editable install",
    "pip install --no-build-isolation -e .": "replaces the installed package with an editable one",
    "python -m pytest tests": "the test command with an editable install",
    "pip install -r bench/requirements.txt": "installs PyTorch and TensorFlow (GBs); optional",
    'pip install ".[plot]"': "installs matplotlib, which the [test] extra already has",
    'pip install ".[keras]"': "installs h5py, which the [test] extra already has",
}


def readme_commands():
    """The commands in README.md: each line of a bash block (comments cut off), and each
    inline code span that starts with python, pip, pytest or flock."""
    cmds = []
    for block in re.findall(r"```(?:bash|sh)\n(.*?)```", README, re.S):
        for line in block.splitlines():
            line = re.split(r"\s+#", line)[0].strip()
            if line:
                cmds.append(line)
    cmds += [s for s in re.findall(r"`([^`\n]+)`", README) if re.match(r"(python|pip|pytest|flock)\b", s)]
    return cmds


def test_every_readme_command_is_accounted_for():
    cmds = readme_commands()
    assert len(cmds) >= 10, cmds   # the parser still finds the README's commands
    tables = (RUN_HERE, RUN_ELSEWHERE, NOT_RUN_BY_A_TEST)
    missing = [c for c in cmds if not any(c in t for t in tables)]
    assert not missing, f"README commands with no test and no reason: {missing}"
    stale = [c for t in tables for c in t if c not in cmds]
    assert not stale, f"commands listed here that the README no longer has: {stale}"
    for where in RUN_ELSEWHERE.values():   # the named test exists
        path, name = where.split("::")
        assert f"def {name}(" in (ROOT / path).read_text(encoding="utf-8"), where


def test_examples_in_the_readme_are_the_ones_test_examples_runs():
    sys.path.insert(0, str(ROOT / "tests"))
    try:
        import test_examples
    finally:
        sys.path.pop(0)
    scripts = {re.search(r"examples/(\w+\.py)", c).group(1) for c in RUN_ELSEWHERE}
    assert scripts <= set(test_examples.PICTURES), scripts - set(test_examples.PICTURES)
    for c in RUN_ELSEWHERE:   # each is run with --quick there, which the README offers
        assert "--quick" in c or "--quick" in README.split(c, 1)[1].split("\n", 1)[0], c


def run(command, cwd):
    """The command through the shell, with this interpreter first on PATH as `python`."""
    bindir = Path(sys.executable).parent
    env = dict(os.environ, PATH=f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}", MPLBACKEND="Agg")
    env.pop("PYTHONPATH", None)
    return subprocess.run(command, shell=True, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)


def test_show_config_outside_the_source_tree(tmp_path):
    cmd = 'python -c "import pyconv; pyconv.show_config()"'
    assert RUN_HERE[cmd] == "outside"
    r = run(cmd, tmp_path)
    assert r.returncode == 0, r.stderr
    assert re.search(r"ISA in use:\s+\w+", r.stdout) and "threads:" in r.stdout, r.stdout


@pytest.mark.skipif(not os.path.isdir(FASHION), reason=f"Fashion-MNIST is not installed in {FASHION}")
def test_bench_quick_from_the_repository_root():
    """`python -m bench --quick` from the root: the table has a pyconv row for each model
    (frameworks that are not installed show as such), whatever kind of install this is."""
    cmd = "python -m bench --quick"
    assert RUN_HERE[cmd] == "root"
    r = run(cmd, ROOT)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    for model in ("DNN", "CNN"):
        row = re.search(rf"^\| {model} \| pyconv \| ([0-9.]+)( \*)? \|", r.stdout, re.M)   # * = disturbed
        assert row and float(row.group(1)) > 0, r.stdout
