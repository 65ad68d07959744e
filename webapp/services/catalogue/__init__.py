"""The utility provider catalogue of each estate: kept in step with the bills providers (``sync``)
and edited by estate admins (``entries``).
"""
from webapp.services.catalogue.entries import (  # noqa: F401
    EntryError,
    activate_entry,
    apply_previewed_sync,
    create_entry,
    deactivate_entry,
    entries_page,
    preview_sync,
    update_entry,
)
from webapp.services.catalogue.sync import (  # noqa: F401
    SYNCED_FIELDS,
    CatalogueSyncError,
    EntryKept,
    FieldChange,
    SyncPlan,
    active_for_estate,
    amount_problem,
    apply_sync,
    plan_sync,
    sync_from_provider,
)
