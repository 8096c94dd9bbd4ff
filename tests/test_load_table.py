"""linnet.data.load_table: a user's CSV table, PCA-whitened for Arora et al.'s Figure 1."""

from __future__ import annotations

import numpy as np
import pytest

from linnet.data import Target, load_table, whitening_error


def _write(path, header, rows, delimiter=","):
    lines = [delimiter.join(header)] + [delimiter.join(str(x) for x in row) for row in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def table_rows():
    rng = np.random.default_rng(0)
    F = rng.standard_normal((60, 4)) * np.array([1.0, 1e4, 1e-3, 5.0]) + np.array([0.0, 3e4, 1.0, -2.0])
    y = F @ np.array([1.0, 1e-4, 100.0, 0.2]) + 0.1 * rng.standard_normal(60) + 7.0
    return F, y


def test_whitened_features_and_unit_target(tmp_path, table_rows):
    F, y = table_rows
    path = _write(tmp_path / "t.csv", ["a", "conc", "b", "c", "d"], [[f[0], yy, *f[1:]] for f, yy in zip(F.tolist(), y)])
    t = load_table(path, "conc")
    assert t.features == ("a", "b", "c", "d") and t.target == "conc"
    assert t.X.shape == (4, 60) and t.Y.shape == (1, 60) and t.m == 60
    assert whitening_error(t.X) < 1e-12  # X X^T = m I (23), despite features on scales 1e-3..1e4
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
    path = _write(tmp_path / "t.csv", ["a", "b", "c", "d", "y"], np.column_stack([F, y]).tolist())
    t = load_table(path, "y", unit_target=False)
    assert t.target_scale == 1.0
    assert np.allclose(t.Y[0], y - y.mean())


def test_other_delimiter(tmp_path, table_rows):
    F, y = table_rows
    path = _write(tmp_path / "t.csv", ["a", "b", "c", "d", "y"], np.column_stack([F, y]).tolist(), delimiter=";")
    assert load_table(path, "y", delimiter=";").X.shape == (4, 60)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_table(tmp_path / "nope.csv", "y")


def test_missing_column_lists_the_columns(tmp_path):
    path = _write(tmp_path / "t.csv", ["a", "b", "y"], [[1, 2, 3], [2, 1, 1], [0, 1, 2], [3, 3, 1]])
    with pytest.raises(ValueError, match=r"target_column 'conc' is not a column.*\['a', 'b', 'y'\]"):
        load_table(path, "conc")


@pytest.mark.parametrize("cell", ["abc", "", "1,5e"])
def test_non_numeric_cell(tmp_path, cell):
    rows = [[1, 2, 3], [2, 1, 1], [0, cell if cell != "1,5e" else '"1,5e"', 2], [3, 3, 1]]
    path = _write(tmp_path / "t.csv", ["a", "b", "y"], rows)
    with pytest.raises(ValueError, match=r"line 4, column 'b'.*is not a number"):
        load_table(path, "y")


@pytest.mark.parametrize("cell", ["nan", "inf", "-inf", "NaN"])
def test_non_finite_cell(tmp_path, cell):
    path = _write(tmp_path / "t.csv", ["a", "b", "y"], [[1, 2, 3], [2, 1, cell], [0, 1, 2], [3, 3, 1]])
    with pytest.raises(ValueError, match=r"line 3, column 'y'.*not finite"):
        load_table(path, "y")


@pytest.mark.parametrize("m", [2, 3])
def test_fewer_rows_than_features(tmp_path, m):
    rng = np.random.default_rng(1)
    path = _write(tmp_path / "t.csv", ["a", "b", "c", "y"], rng.standard_normal((m, 4)).tolist())
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
