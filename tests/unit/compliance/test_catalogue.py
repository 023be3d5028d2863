"""The framework catalogue holds together: ids unique, every mapped check registered and of the framework's
cloud, every check's own cis/soc2/hipaa ids accounted for, every CIS recommendation kept."""

from __future__ import annotations

import pytest

from escher.compliance.catalogue import FRAMEWORK_IDS, UnknownFrameworkError, framework, frameworks
from escher.scans.checks.base import CHECKS

CIS = {"cis-aws": ("aws", "7.0.0", 70), "cis-azure": ("azure", "6.0.0", 127), "cis-gcp": ("gcp", "5.0.0", 93)}


def test_every_framework_loads_with_unique_control_ids() -> None:
    assert [f.id for f in frameworks()] == list(FRAMEWORK_IDS)
    for fw in frameworks():
        ids = [c.id for c in fw.controls]
        assert len(ids) == len(set(ids)), fw.id
        assert all(c.title.strip() for c in fw.controls), fw.id
        assert fw.name and fw.version


@pytest.mark.parametrize("fid", sorted(CIS))
def test_cis_lists_every_recommendation_of_its_version(fid: str) -> None:
    cloud, version, total = CIS[fid]
    fw = framework(fid)
    assert (fw.cloud, fw.version, len(fw.controls)) == (cloud, version, total)
    assert any(not c.automated for c in fw.controls)  # manual ones are kept, not dropped
    assert all(c.section for c in fw.controls)


@pytest.mark.parametrize("fid", FRAMEWORK_IDS)
def test_every_mapped_check_is_registered_and_of_the_frameworks_cloud(fid: str) -> None:
    fw = framework(fid)
    unknown = sorted(k for k in fw.check_ids() if k not in CHECKS)
    assert not unknown, f"{fid} maps checks that are not registered: {unknown}"
    if fw.cloud:
        other = sorted(k for k in fw.check_ids() if CHECKS.get(k).cloud != fw.cloud)
        assert not other, f"{fid} maps checks of another cloud: {other}"


@pytest.mark.parametrize("fid", sorted(CIS))
def test_every_checks_cis_ids_map_into_the_catalogue_of_its_cloud(fid: str) -> None:
    """A check's ``cis`` ids must be the controls the catalogue maps it to, or the catalogue says which ids are
    right (``check_cis_corrections``); a correction must still be needed (the check's ids differ)."""
    fw = framework(fid)
    cloud = CIS[fid][0]
    wrong = []
    for key, chk in CHECKS.items():
        if chk.cloud != cloud or not (chk.cis or key in fw.corrections):
            continue
        mapped = set(fw.controls_of(key))
        fix = fw.corrections.get(key)
        expected = set(fix.correct) if fix else set(chk.cis)
        if mapped != expected:
            wrong.append(f"{key}: declares {sorted(chk.cis)}, catalogue maps {sorted(mapped)}")
        if fix and set(fix.correct) == set(chk.cis):
            wrong.append(f"{key}: correction no longer needed (the check says {sorted(chk.cis)})")
    assert not wrong, "\n".join(wrong)
    for key in fw.corrections:
        assert key in CHECKS, f"correction for unknown check {key}"


@pytest.mark.parametrize(("fid", "attr"), [("soc2", "soc2"), ("hipaa", "hipaa")])
def test_soc2_and_hipaa_ids_on_checks_are_all_in_the_catalogue(fid: str, attr: str) -> None:
    fw = framework(fid)
    ids = {c.id for c in fw.controls}
    named = {(k, i) for k, chk in CHECKS.items() for i in getattr(chk, attr)}
    assert named, "no check names any control: the mapping would be empty"
    assert not sorted(i for _, i in named if i not in ids)
    for key, control_id in named:
        assert key in fw.control(control_id).checks


def test_unknown_framework_names_the_close_one() -> None:
    with pytest.raises(UnknownFrameworkError) as err:
        framework("cis-awz")
    assert err.value.exit_code == 2
    assert "unknown framework 'cis-awz'" in err.value.message
    assert "cis-aws" in (err.value.hint or "") and "escher compliance list" in (err.value.hint or "")
