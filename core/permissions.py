"""Who may do what: one table of actions and the roles allowed each, checked in core/ (the
repository and services call `require`) and read by the pages to hide or disable a control
with the reason (`allowed`, `refusal`).

Roles (core.store.models.ROLES):
- "admin": everything a clinician may, plus accounts and the audit trail.
- "clinician": sees and changes the record (patients, visits, clips, ratings, exports).
- "reviewer": read-only. Sees patients, results, trends and reports; cannot record, upload,
  analyse, rate, edit, or export identified data (de-identified research tables are allowed).
"""
from __future__ import annotations

from core.store.errors import PermissionDenied
from core.store.models import ROLES

VIEW = "view"  # open patients, visits, results, trends, reports (every view is audited)
EDIT_RECORD = "edit_record"  # create or change patients and visits, archive them
RECORD = "record"  # record, upload, import or analyse clips; choose, exclude, relabel clips; scores
RATE = "rate"  # enter clinician ratings and outcome-test results
EXPORT_IDENTIFIED = "export_identified"  # PDF reports, FHIR and tables with name, MRN, dates
EXPORT_DEIDENTIFIED = "export_deidentified"  # research tables: pseudonyms, no name/MRN/dates
MANAGE_ACCOUNTS = "manage_accounts"
READ_AUDIT = "read_audit"
DELETE_PATIENT = "delete_patient"  # erase a patient's record and files (core.retention.delete_patient)
UNLOCK_SIGN_IN = "unlock_sign_in"  # end a username's sign-in lockout early (repository.unlock_sign_in)
TRAIN_CLINIC_MODEL = "train_clinic_model"  # train a clinic's own model from its ratings (core.clinic_models)
ACTIVATE_CLINIC_MODEL = "activate_clinic_model"  # activate or roll back a clinic model version

# action -> the roles allowed it, and the one line shown to everyone else.
PERMISSIONS: dict[str, tuple[frozenset[str], str]] = {
    VIEW: (frozenset({"admin", "clinician", "reviewer"}), "Sign in to see the record."),
    EDIT_RECORD: (frozenset({"admin", "clinician"}),
                  "Reviewers can read the record but not add or change patients or visits."),
    RECORD: (frozenset({"admin", "clinician"}),
             "Reviewers can read the record but not record, upload, analyse or correct clips."),
    RATE: (frozenset({"admin", "clinician"}), "Reviewers can read ratings but not enter them."),
    EXPORT_IDENTIFIED: (frozenset({"admin", "clinician"}),
                        "Reviewers may export de-identified tables only (no name, MRN or dates)."),
    EXPORT_DEIDENTIFIED: (frozenset({"admin", "clinician", "reviewer"}), "Sign in to export."),
    MANAGE_ACCOUNTS: (frozenset({"admin"}), "Only an administrator can manage clinician accounts."),
    READ_AUDIT: (frozenset({"admin"}), "Only an administrator can read the audit trail."),
    DELETE_PATIENT: (frozenset({"admin"}), "Only an administrator can delete a patient's record."),
    UNLOCK_SIGN_IN: (frozenset({"admin"}), "Only an administrator can lift a sign-in lockout."),
    TRAIN_CLINIC_MODEL: (frozenset({"admin"}), "Only an administrator can train a clinic model."),
    ACTIVATE_CLINIC_MODEL: (frozenset({"admin"}),
                            "Only an administrator can activate a clinic model or roll it back."),
}

assert all(roles <= set(ROLES) for roles, _ in PERMISSIONS.values())


def _role(who) -> str | None:
    return who if isinstance(who, str) or who is None else getattr(who, "role", None)


def allowed(who, action: str) -> bool:
    """True when `who` (a role, a Clinician or anything with .role) may do `action`."""
    if action not in PERMISSIONS:
        raise KeyError(f"unknown action {action!r}")
    return _role(who) in PERMISSIONS[action][0]


def refusal(action: str) -> str:
    """The one-line reason shown to a role that may not do `action`."""
    return PERMISSIONS[action][1]


def require(who, action: str) -> None:
    """Raise PermissionDenied (one line) unless `who` may do `action`."""
    if not allowed(who, action):
        raise PermissionDenied(refusal(action))


def actions_of(role: str) -> list[str]:
    return [action for action, (roles, _) in PERMISSIONS.items() if role in roles]
