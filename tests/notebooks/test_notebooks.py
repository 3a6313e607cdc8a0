"""The three notebooks, as committed: no outputs in the committed blobs, and each runs top to bottom
twice in one kernel and once more in a fresh kernel against one MJNB_HOME, with no error and
without piling up tags or resubmitting a same-name experiment."""

import subprocess
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).parents[2]
# Only the notebooks the project ships: a notebook a user adds to notebooks/ is theirs, not a test.
NOTEBOOKS = ("01-quickstart.ipynb", "02-prompt-experiments.ipynb", "03-timings-and-seeds.ipynb")


def _committed(name: str) -> str:
    """The notebook as committed in HEAD (not the working copy, which a user may have saved with outputs)."""
    return subprocess.run(["git", "show", f"HEAD:notebooks/{name}"], cwd=ROOT, check=True,
                          capture_output=True, text=True).stdout


def test_the_shipped_notebooks_exist():
    for name in NOTEBOOKS:
        assert (ROOT / "notebooks" / name).is_file(), name


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_committed_without_outputs(name):
    nb = nbformat.reads(_committed(name), as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None, f"{name} is committed with outputs: clear them"


def _pass(client: NotebookClient, nb) -> str:
    """Run every cell once in the client's kernel (raising on the first error); returns the text shown."""
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            client.execute_cell(cell, index)
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
    return "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_runs_twice_then_again_in_a_new_kernel(name, tmp_path, monkeypatch):
    for var in ("MJNB_BASE_URL", "MJNB_API_KEY", "MJNB_MODE"):
        monkeypatch.delenv(var, raising=False)
    home = tmp_path / "home"
    monkeypatch.setenv("MJNB_HOME", str(home))
    texts = []
    for passes in (2, 1):  # one kernel running it twice, then a fresh kernel
        nb = nbformat.reads(_committed(name), as_version=4)
        client = NotebookClient(nb, timeout=180, kernel_name="python3",
                                resources={"metadata": {"path": str(tmp_path)}})
        with client.setup_kernel():
            for _ in range(passes):
                texts.append(_pass(client, nb))
    assert "built-in simulator" in texts[0]

    from mjnb.store import History
    df = History(home).dataframe()
    if name.startswith("02"):  # the same-name experiment reused its 12 items (and 12 upscales) three times
        assert len(df[df.experiment == "notebook-02-demo"]) == 12
        assert len(df[df.experiment == "notebook-02-demo.U1"]) == 12
        assert sum("keeper" in tags for tags in df.tags) == 2
    else:  # each run made its own tasks; none of them failed
        assert len(df) and (df.status == "SUCCESS").all(), df.status.value_counts()
