"""Clinic model versions on both backends (SQLite and, with DATABASE_URL_PG, PostgreSQL): a
version's parameters are plain JSON that predict the same after the round trip, and activation
and rollback write and supersede estimates, audited. SYNTHETIC clinic (tests.core.test_clinic_models)."""
from __future__ import annotations

import numpy as np
from sqlalchemy import select

from core import clinic_models as cm
from core.store import transaction
from core.store.models import Assessment, AuditEvent, ClinicModelVersion
from tests.core.test_clinic_models import synthetic_rated_clinic


def test_versions_round_trip_and_activation_on_each_backend(sessions, admin):
    synthetic_rated_clinic(sessions, admin.id, patients=22, depends=True, visits=3)
    result = cm.train(sessions, admin.id, "3.4", "left", n_boot=200)
    with transaction(sessions) as s:
        stored = s.get(ClinicModelVersion, result.version_id)
        params = stored.parameters
        table = cm.training_table(s, cm.target_spec("3.4", "left"))
        assert stored.data_summary["n_patients"] == 22 and stored.beats_baseline == result.beats_baseline
        assert "Decision support, not a diagnosis" in stored.card
    assert params["features"] == table.features
    np.testing.assert_allclose(cm.predict_ridge(params, table.X), cm.predict_ridge(result.parameters, table.X))
    assert result.beats_baseline
    second = cm.train(sessions, admin.id, "3.4", "left", n_boot=200)
    cm.activate(sessions, admin.id, second.version_id)
    cm.activate(sessions, admin.id, result.version_label)  # by label as well as by id; the lower id replaces
    with transaction(sessions) as s:
        current = list(s.scalars(select(Assessment).where(Assessment.model_name == "clinic:3.4:left",
                                                          Assessment.superseded_at.is_(None))))
        assert len(current) == 66 and {a.model_version for a in current} == {result.version_label}
    with transaction(sessions) as s:
        assert cm.active_version(s, "3.4:left").id == result.version_id
        assert s.get(ClinicModelVersion, second.version_id).deactivated_at is not None
    cm.rollback(sessions, admin.id, "3.4", "left")
    with transaction(sessions) as s:
        assert not s.scalars(select(Assessment).where(Assessment.model_name == "clinic:3.4:left",
                                                      Assessment.superseded_at.is_(None))).all()
        actions = s.scalars(select(AuditEvent.action).where(AuditEvent.action.like("%clinic_model")).order_by(
            AuditEvent.id)).all()
        assert actions == ["train_clinic_model", "train_clinic_model", "activate_clinic_model",
                           "activate_clinic_model", "rollback_clinic_model"]


def test_the_database_keeps_one_active_version_per_target(sessions, admin):
    import pytest
    from datetime import datetime, timezone

    from sqlalchemy.exc import IntegrityError

    def version(n: int) -> ClinicModelVersion:
        return ClinicModelVersion(target_key="3.10", target_item="3.10", target_side=None, version=n,
                                  data_summary={}, metrics={}, parameters={}, card="", beats_baseline=True,
                                  activated_at=datetime.now(timezone.utc))

    with transaction(sessions) as s:
        s.add(version(1))
    with pytest.raises(IntegrityError):  # two active versions of one target, as by two simultaneous activations
        with transaction(sessions) as s:
            s.add(version(2))
    with transaction(sessions) as s:
        first = s.scalar(select(ClinicModelVersion))
        first.deactivated_at = datetime.now(timezone.utc)
        s.add(version(2))  # after a rollback another may be active
    with transaction(sessions) as s:
        assert [v.version for v in cm.active_versions(s)] == [2]
