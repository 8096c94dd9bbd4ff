"""linnet.data.load_table: a user's CSV table, PCA-whitened for Arora et al.'s Figure 1."""

from __future__ import annotations

import numpy as np
import pytest

from linnet.data import Target, load_table, whitening_error


def _write(path, header, rows, delimiter=","):
    lines = [delimiter.join(header)] + [
        delimiter.join(str(x) for x in row) for row in rows
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def table_rows():
    rng = np.random.default_rng(0)
    F = rng.standard_normal((60, 4)) * np.array([1.0, 1e4, 1e-3, 5.0]) + np.array(
        [0.0, 3e4, 1.0, -2.0]
    )
    y = F @ np.array([1.0, 1e-4, 100.0, 0.2]) + 0.1 * rng.standard_normal(60) + 7.0
    return F, y


def test_whitened_features_and_unit_target(tmp_path, table_rows):
    F, y = table_rows
    path = _write(
        tmp_path / "t.csv",
        ["a", "conc", "b", "c", "d"],
        [[f[0], yy, *f[1:]] for f, yy in zip(F.tolist(), y, strict=True)],
    )
    t = load_table(path, "conc")
    assert t.features == ("a", "b", "c", "d") and t.target == "conc"
    assert t.X.shape == (4, 60) and t.Y.shape == (1, 60) and t.m == 60
    assert (
        whitening_error(t.X) < 1e-12
    )  # X X^T = m I (23), despite features on scales 1e-3..1e4
    assert np.allclose(t.X.mean(axis=1), 0, atol=1e-12)
    assert abs(np.linalg.norm(t.Phi) - 1.0) < 1e-12
    assert abs(float(t.Y.mean())) < 1e-12
    Target.from_data(t.X, t.Y)  # accepted as whitened data by the rest of linnet
    # The whitened features span the centred raw features: regressing y on them recovers the OLS fit.
    Fc = F - F.mean(axis=0)
    coef, *_ = np.linalg.lstsq(Fc, y - y.mean(), rcond=None)
    fit_raw = Fc @ coef
    fit_white = (t.Phi @ t.X)[0] / t.target_scale
    assert np.allclose(fit_raw, fit_white, rtol=1e-8, atol=1e-8 * np.abs(fit_raw).max())


def test_unit_target_off_keeps_the_scale(tmp_path, table_rows):
    F, y = table_rows
    path = _write(
        tmp_path / "t.csv", ["a", "b", "c", "d", "y"], np.column_stack([F, y]).tolist()
    )
    t = load_table(path, "y", unit_target=False)
    assert t.target_scale == 1.0
    assert np.allclose(t.Y[0], y - y.mean())


def test_other_delimiter(tmp_path, table_rows):
    F, y = table_rows
    path = _write(
        tmp_path / "t.csv",
        ["a", "b", "c", "d", "y"],
        np.column_stack([F, y]).tolist(),
        delimiter=";",
    )
    assert load_table(path, "y", delimiter=";").X.shape == (4, 60)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_table(tmp_path / "nope.csv", "y")


def test_missing_column_lists_the_columns(tmp_path):
    path = _write(
        tmp_path / "t.csv",
        ["a", "b", "y"],
        [[1, 2, 3], [2, 1, 1], [0, 1, 2], [3, 3, 1]],
    )
    with pytest.raises(
        ValueError, match=r"target_column 'conc' is not a column.*\['a', 'b', 'y'\]"
    ):
        load_table(path, "conc")


@pytest.mark.parametrize("cell", ["abc", "", "1,5e"])
def test_non_numeric_cell(tmp_path, cell):
    rows = [
        [1, 2, 3],
        [2, 1, 1],
        [0, cell if cell != "1,5e" else '"1,5e"', 2],
        [3, 3, 1],
    ]
    path = _write(tmp_path / "t.csv", ["a", "b", "y"], rows)
    with pytest.raises(ValueError, match=r"line 4, column 'b'.*is not a number"):
        load_table(path, "y")


@pytest.mark.parametrize("cell", ["nan", "inf", "-inf", "NaN"])
def test_non_finite_cell(tmp_path, cell):
    path = _write(
        tmp_path / "t.csv",
        ["a", "b", "y"],
        [[1, 2, 3], [2, 1, cell], [0, 1, 2], [3, 3, 1]],
    )
    with pytest.raises(ValueError, match=r"line 3, column 'y'.*not finite"):
        load_table(path, "y")


@pytest.mark.parametrize("m", [2, 3])
def test_fewer_rows_than_features(tmp_path, m):
    rng = np.random.default_rng(1)
    path = _write(
        tmp_path / "t.csv", ["a", "b", "c", "y"], rng.standard_normal((m, 4)).tolist()
    )
    with pytest.raises(ValueError, match="more rows than features"):
        load_table(path, "y")


def test_ragged_rows(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("a,b,y\n1,2,3\n1,2\n3,4,5\n5,1,2\n")
    with pytest.raises(ValueError, match="line 3: expected 3 cells"):
        load_table(path, "y")


def test_empty_file_and_header_only(tmp_path):
    empty = tmp_path / "e.csv"
    empty.write_text("")
    with pytest.raises(ValueError, match="is empty"):
        load_table(empty, "y")
    header = tmp_path / "h.csv"
    header.write_text("a,b,y\n")
    with pytest.raises(ValueError, match="no data rows"):
        load_table(header, "y")


def test_no_feature_column(tmp_path):
    path = _write(tmp_path / "t.csv", ["y"], [[1], [2], [3]])
    with pytest.raises(ValueError, match="at least one feature column"):
        load_table(path, "y")


def test_dependent_features(tmp_path):
    rng = np.random.default_rng(2)
    F = rng.standard_normal((20, 2))
    rows = np.column_stack([F, F[:, 0] + 2 * F[:, 1], rng.standard_normal(20)]).tolist()
    with pytest.raises(ValueError, match="linearly dependent"):
        load_table(_write(tmp_path / "t.csv", ["a", "b", "c", "y"], rows), "y")
    rows = np.column_stack([F, np.ones(20), rng.standard_normal(20)]).tolist()
    with pytest.raises(ValueError, match="'c'.*constant"):
        load_table(_write(tmp_path / "u.csv", ["a", "b", "c", "y"], rows), "y")


def test_target_uncorrelated_with_features(tmp_path):
    rng = np.random.default_rng(3)
    rows = np.column_stack([rng.standard_normal((10, 2)), np.full(10, 4.0)]).tolist()
    with pytest.raises(ValueError, match="uncorrelated"):
        load_table(_write(tmp_path / "t.csv", ["a", "b", "y"], rows), "y")


@pytest.mark.parametrize("target", ["y", "a"])
def test_duplicate_column_names(tmp_path, target):
    # a duplicated name would otherwise silently select the first of the two columns
    path = _write(
        tmp_path / "t.csv",
        ["a", "b", "a", "y"],
        [[1, 2, 3, 4], [2, 1, 1, 0], [0, 1, 2, 5], [3, 3, 1, 1], [1, 0, 0, 2]],
    )
    with pytest.raises(
        ValueError, match=r"line 1: column name 'a' appears more than once.*\[1, 3\]"
    ):
        load_table(path, target)


def test_empty_column_name(tmp_path):
    path = _write(
        tmp_path / "t.csv", ["a", "", "y"], [[1, 2, 3], [2, 1, 1], [0, 1, 2], [3, 3, 1]]
    )
    with pytest.raises(ValueError, match=r"line 1: column 2 of the header has no name"):
        load_table(path, "y")


def test_utf8_bom_in_header(tmp_path, table_rows):
    # spreadsheet programs write a byte-order mark; the first column name must still match
    F, y = table_rows
    plain = _write(
        tmp_path / "plain.csv",
        ["y", "a", "b", "c", "d"],
        np.column_stack([y, F]).tolist(),
    )
    bom = tmp_path / "bom.csv"
    bom.write_bytes(b"\xef\xbb\xbf" + plain.read_bytes())
    t, t0 = load_table(bom, "y"), load_table(plain, "y")
    assert t.features == ("a", "b", "c", "d") and t.target == "y"
    assert np.array_equal(t.X, t0.X) and np.array_equal(t.Y, t0.Y)


def test_not_utf8(tmp_path):
    path = tmp_path / "t.csv"
    path.write_bytes(b"a,b,y\n1,2,3\n" + b"\xff\xfe,1,2\n")
    with pytest.raises(ValueError, match="not UTF-8"):
        load_table(path, "y")


@pytest.mark.parametrize("big", [1e200, 1e300])
def test_huge_values_do_not_overflow(tmp_path, table_rows, big):
    # squares of 1e200 overflow; the result must equal that of the same table in ordinary units
    F, y = table_rows
    ref = load_table(
        _write(
            tmp_path / "r.csv",
            ["a", "b", "c", "d", "y"],
            np.column_stack([F, y]).tolist(),
        ),
        "y",
    )
    scaled = np.column_stack([F * np.array([big, 1.0, big, 1.0]) / 1e4, y * big / 1e4])
    t = load_table(
        _write(tmp_path / "t.csv", ["a", "b", "c", "d", "y"], scaled.tolist()), "y"
    )
    assert np.all(np.isfinite(t.X)) and np.all(np.isfinite(t.Y))
    assert np.allclose(
        np.abs(t.X), np.abs(ref.X), atol=1e-8
    )  # principal axes up to sign
    assert abs(np.linalg.norm(t.Phi) - 1.0) < 1e-12
    assert np.isclose(t.target_scale * big / 1e4, ref.target_scale, rtol=1e-10)


def test_huge_target_without_rescaling(tmp_path, table_rows):
    F, y = table_rows
    y = np.where(np.arange(y.size) < 3, -1.7e308, 1.7e308) * (
        1 + 0.01 * F[:, 0]
    )  # y - mean(y) overflows
    path = _write(
        tmp_path / "t.csv", ["a", "b", "c", "d", "y"], np.column_stack([F, y]).tolist()
    )
    assert np.isfinite(
        load_table(path, "y").target_scale
    )  # fine with the unit rescaling
    with pytest.raises(ValueError, match=r"target column 'y'.*too large"):
        load_table(path, "y", unit_target=False)


def test_chapter_05_rejects_target_column_without_data_csv():
    # the notebook's parameter validation: a target_column that would otherwise be silently ignored
    from pathlib import Path

    import nbformat

    nb = nbformat.read(
        Path(__file__).resolve().parents[1] / "notebooks" / "05-arora-2018a.ipynb",
        as_version=4,
    )
    (k,) = [
        i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", [])
    ]
    env = {}
    exec(nb.cells[k].source, env)
    # the validation cell: the next code cell (a Markdown note introduces it)
    v = next(i for i in range(k + 1, len(nb.cells)) if nb.cells[i].cell_type == "code")
    env["target_column"] = "concentration"
    with pytest.raises(
        ValueError, match=r"target_column = 'concentration' is given without data_csv"
    ):
        exec(nb.cells[v].source, env)
    env["target_column"] = ""
    exec(nb.cells[v].source, env)  # the defaults pass
